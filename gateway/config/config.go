package config

import (
	"strconv"
	"time"
)

// The struct tags of the types below drive decoding, the JSON Schema and the
// reference page alike:
//
//   - yaml names the key;
//   - default is the value used when the key is omitted, written as in YAML
//     (comma-separated for lists);
//   - required marks a key that must be present.

// Config is a whole gateway configuration file: where to listen, where to
// send requests, which route sends which request where, and the policies
// that keep each route standing. Top-level keys starting with "x-" are
// ignored: they are a place for YAML anchors that the sections below merge
// in with "<<".
type Config struct {
	// Listeners are the addresses the gateway accepts requests on. At least
	// one is required.
	Listeners []Listener `yaml:"listeners" required:"true"`
	// Upstreams are the services requests are forwarded to, each a pool of
	// targets.
	Upstreams []Upstream `yaml:"upstreams"`
	// Routes send requests to upstreams. A request goes to the matching route
	// of highest priority; among equal priorities, the first in the file wins.
	// A request no route matches is answered 404.
	Routes []Route `yaml:"routes"`
	// Redis is the shared store for rate limits marked redis: true. Omitted
	// means no Redis; a route that asks for it is then an error.
	Redis *Redis `yaml:"redis"`
	// Admin is the admin API (health, metrics, configuration, dashboard).
	Admin Admin `yaml:"admin"`
	// AccessLog writes one line per request. Omitted means no access log.
	AccessLog *AccessLog `yaml:"access_log"`
	// Tracing makes an OpenTelemetry span per request, continuing the
	// caller's W3C trace context, and exports the spans over OTLP. Omitted
	// means no spans (a traceparent field passes through unchanged).
	Tracing *Tracing `yaml:"tracing"`
	// Reload tunes how a new configuration replaces the running one (from
	// the file, SIGHUP, the admin API or etcd) and the self-check that
	// rolls a harmful one back.
	Reload Reload `yaml:"reload"`
}

// Reload tunes hot reload. Every source takes one path: the new document
// is decoded and checked, a complete new runtime is built beside the
// running one and warmed (new targets pass a health check), then swapped in
// atomically; the old runtime drains its requests in flight and stops. A
// document identical to the running one is not applied again. Listeners,
// admin, access_log and tracing are not reloaded: a change to them is
// refused and needs a restart or a binary upgrade (SIGUSR2).
type Reload struct {
	// Watch reloads when the configuration file changes, watching its
	// directory so that editors that save by rename and Kubernetes
	// ConfigMaps (which swap a symbolic link) are seen.
	Watch bool `yaml:"watch" default:"true"`
	// Debounce waits this long after the last change to the file before
	// reloading, so that one save (several file system events) reloads
	// once.
	Debounce time.Duration `yaml:"debounce" default:"500ms"`
	// WarmTimeout bounds warming a new runtime: every target new to an
	// upstream with a health_check must pass one probe within it, or the
	// reload fails and the running configuration stays.
	WarmTimeout time.Duration `yaml:"warm_timeout" default:"10s"`
	// DrainTimeout bounds how long the replaced runtime waits for its
	// requests in flight before it is stopped.
	DrainTimeout time.Duration `yaml:"drain_timeout" default:"30s"`
	// History is how many applied versions are kept for the admin API and
	// for rollback, the running one included.
	History int `yaml:"history" default:"10"`
	// SelfCheck watches a newly applied configuration and rolls it back
	// when it harms the service.
	SelfCheck ReloadSelfCheck `yaml:"self_check"`
}

// ReloadSelfCheck watches the service for a while after a reload: every
// route's slo and the gateway as a whole (every request not answered 5xx
// is good). The new configuration is rolled back to the one before it,
// and marked bad so that it is not applied again unless forced, as soon as
// a watched objective burns its error budget faster than max_burn_rate, or
// errors more than max_regression times as often as before the reload.
// Fewer than min_events requests in the period never roll back.
type ReloadSelfCheck struct {
	// Period is how long a new configuration is watched. Zero turns the
	// self-check off.
	Period time.Duration `yaml:"period" default:"60s"`
	// MaxBurnRate is the highest burn rate (error ratio divided by the
	// objective's allowed error ratio) that passes.
	MaxBurnRate float64 `yaml:"max_burn_rate" default:"14.4"`
	// MinEvents is how many requests an objective must see during the
	// period before it can fail.
	MinEvents int `yaml:"min_events" default:"20"`
	// MaxRegression fails an objective whose error ratio is more than this
	// many times its error ratio over the same period before the reload
	// (and above the objective's allowed error ratio). Zero turns the
	// comparison off.
	MaxRegression float64 `yaml:"max_regression" default:"2"`
	// Objective is the share of the gateway's requests (all routes) that
	// must not be answered 5xx, the objective watched for every reload
	// whether or not routes have their own slo.
	Objective Percent `yaml:"objective" default:"99%"`
	// Latency, when set, adds a second gateway-wide objective: the same
	// share of requests must be answered within this time. Like the
	// first, it is judged by max_burn_rate and compared with the time
	// before the reload by max_regression, so a reload that makes the
	// gateway slower is rolled back too. Zero means no latency objective.
	Latency time.Duration `yaml:"latency" default:"0s"`
}

// Listener is one address the gateway accepts requests on.
type Listener struct {
	// Name identifies the listener in metrics and logs; unique among
	// listeners.
	Name string `yaml:"name" required:"true"`
	// Address is the host:port to listen on; ":8080" listens on every
	// interface.
	Address string `yaml:"address" required:"true"`
	// TLS serves HTTPS (with HTTP/2 negotiated by ALPN). Omitted means plain
	// HTTP.
	TLS *TLS `yaml:"tls"`
	// H2C accepts HTTP/2 without TLS (prior knowledge or upgrade), for
	// clients such as gRPC on a trusted network. Not allowed with tls.
	H2C bool `yaml:"h2c" default:"false"`
	// Timeouts bound how long a client may take.
	Timeouts ListenerTimeouts `yaml:"timeouts"`
	// MaxHeaderBytes caps the size of a request's header section.
	MaxHeaderBytes Size `yaml:"max_header_bytes" default:"1MiB"`
	// TrustedProxies lists the peers (IP addresses, or CIDR prefixes such
	// as "10.0.0.0/8") whose X-Forwarded-For, X-Forwarded-Proto,
	// X-Forwarded-Host and Forwarded fields are believed. The client's IP
	// is the rightmost X-Forwarded-For address that is not a trusted
	// proxy. Empty trusts no one: the client's IP is the connection's peer
	// and those fields from clients are replaced, not extended.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// TLS names a certificate and its private key, both PEM files. Relative
// paths are read from the configuration file's directory.
type TLS struct {
	// CertFile is the certificate chain, leaf first.
	CertFile string `yaml:"cert_file" required:"true"`
	// KeyFile is the private key of the leaf certificate.
	KeyFile string `yaml:"key_file" required:"true"`
}

// ListenerTimeouts bound how long a client may take. Zero means no limit,
// which is only wise behind another proxy that sets one.
type ListenerTimeouts struct {
	// ReadHeader bounds reading a request's header section; it defends
	// against slow clients holding connections open.
	ReadHeader time.Duration `yaml:"read_header" default:"10s"`
	// Read bounds reading a whole request, body included.
	Read time.Duration `yaml:"read" default:"0s"`
	// Write bounds writing a response, from the end of the request header.
	// It must exceed the longest route timeout, or slow answers are cut.
	Write time.Duration `yaml:"write" default:"0s"`
	// Idle bounds how long a keep-alive connection waits for its next
	// request.
	Idle time.Duration `yaml:"idle" default:"120s"`
}

// Upstream is a service requests are forwarded to: a pool of targets with a
// balancing policy, health checks, outlier detection and a breaker.
type Upstream struct {
	// Name identifies the upstream; routes refer to it. Unique among
	// upstreams.
	Name string `yaml:"name" required:"true"`
	// Targets are the instances of the service. At least one is required.
	Targets []Target `yaml:"targets" required:"true"`
	// ResolveInterval is how often host names in targets are resolved again.
	// Each address a name resolves to becomes a target of the name's weight;
	// an address that stays keeps its health, ejection and breaker state, a
	// new one joins balancing, and one that is gone leaves it while its
	// requests in flight finish. A failed look-up keeps the name's last good
	// addresses (logged, and counted in levee_gateway_resolutions_total);
	// a name that has never resolved is dialled by name. An https target is
	// resolved only when the certificate name is known: tls_server_name, or
	// the one host name all the upstream's https targets share. localhost
	// is not expanded (the dialer tries its addresses in turn). Zero
	// resolves once, at start.
	ResolveInterval time.Duration `yaml:"resolve_interval" default:"30s"`
	// Balancing picks a target for each request.
	Balancing Balancing `yaml:"balancing"`
	// HealthCheck probes every target actively. Omitted means no active
	// checks: every target is taken as healthy unless outlier detection
	// ejects it.
	HealthCheck *HealthCheck `yaml:"health_check"`
	// OutlierDetection ejects targets that answer badly, with Envoy's
	// semantics. Omitted means no ejection.
	OutlierDetection *OutlierDetection `yaml:"outlier_detection"`
	// Breaker stops sending requests to a failing upstream (or target) for a
	// while. Omitted means no breaker.
	Breaker *Breaker `yaml:"breaker"`
	// Transport tunes the connection pool to the targets.
	Transport Transport `yaml:"transport"`
}

// Target is one instance of an upstream.
type Target struct {
	// URL is "http://host:port", "https://host:port" or "host:port" (plain
	// HTTP). It has no path: routes rewrite paths.
	URL string `yaml:"url" required:"true"`
	// Weight is the target's share of requests relative to the others, from
	// 1 to 1000.
	Weight int `yaml:"weight" default:"1"`
}

// Balancing picks a target for each request.
type Balancing struct {
	// Policy is round_robin (weighted), least_request (power of two random
	// choices, the one with fewer requests in flight) or consistent_hash
	// (the same key goes to the same target while the pool is stable).
	Policy BalancingPolicy `yaml:"policy" default:"round_robin"`
	// Hash says what consistent_hash hashes. Required with consistent_hash,
	// not allowed with the other policies.
	Hash *HashKey `yaml:"hash"`
}

// BalancingPolicy names a balancing algorithm.
type BalancingPolicy string

// The balancing policies.
const (
	RoundRobin     BalancingPolicy = "round_robin"
	LeastRequest   BalancingPolicy = "least_request"
	ConsistentHash BalancingPolicy = "consistent_hash"
)

func (BalancingPolicy) values() []string {
	return []string{string(RoundRobin), string(LeastRequest), string(ConsistentHash)}
}

// HashKey is what consistent_hash hashes: exactly one of header and cookie.
// A request without it goes to a random target.
type HashKey struct {
	// Header is a request header whose value is hashed.
	Header string `yaml:"header"`
	// Cookie is a request cookie whose value is hashed.
	Cookie string `yaml:"cookie"`
}

// HealthCheck probes every target with an HTTP GET.
type HealthCheck struct {
	// Path is the path requested; it starts with "/".
	Path string `yaml:"path" default:"/healthz"`
	// Interval is the time between two probes of one target.
	Interval time.Duration `yaml:"interval" default:"10s"`
	// Timeout bounds one probe; it must be shorter than interval.
	Timeout time.Duration `yaml:"timeout" default:"2s"`
	// HealthyThreshold is how many probes in a row must pass before an
	// unhealthy target takes requests again.
	HealthyThreshold int `yaml:"healthy_threshold" default:"2"`
	// UnhealthyThreshold is how many probes in a row must fail before a
	// target stops taking requests.
	UnhealthyThreshold int `yaml:"unhealthy_threshold" default:"3"`
	// ExpectStatus lists the status codes of a passing probe; each entry is a
	// code ("200") or an inclusive range ("200-399").
	ExpectStatus []string `yaml:"expect_status" default:"200-399"`
}

// OutlierDetection ejects targets that answer badly, as Envoy's outlier
// detection does: an ejected target takes no requests for
// base_ejection_time multiplied by the number of times it was ejected, and
// never more than max_ejection_percent of the pool is ejected at once.
type OutlierDetection struct {
	// Interval is how often success_rate and failure_percentage are
	// evaluated and ejections are expired.
	Interval time.Duration `yaml:"interval" default:"10s"`
	// BaseEjectionTime is how long a first ejection lasts.
	BaseEjectionTime time.Duration `yaml:"base_ejection_time" default:"30s"`
	// MaxEjectionTime caps an ejection however often a target was ejected.
	MaxEjectionTime time.Duration `yaml:"max_ejection_time" default:"300s"`
	// MaxEjectionPercent caps the share of targets ejected at once; at least
	// one target may always be ejected.
	MaxEjectionPercent Percent `yaml:"max_ejection_percent" default:"10%"`
	// Consecutive5xx ejects a target after this many 5xx answers (or
	// connection failures) in a row. Zero turns this check off.
	Consecutive5xx int `yaml:"consecutive_5xx" default:"5"`
	// ConsecutiveGatewayFailure ejects a target after this many 502, 503 or
	// 504 answers (or connection failures) in a row. Zero turns this check
	// off.
	ConsecutiveGatewayFailure int `yaml:"consecutive_gateway_failure" default:"0"`
	// SuccessRate ejects targets whose success rate falls far below the
	// pool's mean. Omitted turns this check off.
	SuccessRate *SuccessRate `yaml:"success_rate"`
	// FailurePercentage ejects targets whose failure percentage passes a
	// fixed threshold. Omitted turns this check off.
	FailurePercentage *FailurePercentage `yaml:"failure_percentage"`
}

// SuccessRate is Envoy's success-rate outlier check: every interval, a
// target whose success rate is below mean − stdev_factor × standard
// deviation of the pool is ejected.
type SuccessRate struct {
	// MinimumHosts is how many targets must have enough requests for the
	// check to run at all.
	MinimumHosts int `yaml:"minimum_hosts" default:"5"`
	// RequestVolume is how many requests a target needs in an interval to
	// be counted.
	RequestVolume int `yaml:"request_volume" default:"100"`
	// StdevFactor scales the standard deviation below the mean that ejects.
	StdevFactor float64 `yaml:"stdev_factor" default:"1.9"`
}

// FailurePercentage is Envoy's failure-percentage outlier check: every
// interval, a target whose failure share is at or above threshold is
// ejected.
type FailurePercentage struct {
	// Threshold is the failure share that ejects.
	Threshold Percent `yaml:"threshold" default:"85%"`
	// MinimumHosts is how many targets the pool needs for the check to run.
	MinimumHosts int `yaml:"minimum_hosts" default:"5"`
	// RequestVolume is how many requests a target needs in an interval to
	// be counted.
	RequestVolume int `yaml:"request_volume" default:"50"`
}

// Breaker stops sending requests to a failing upstream for a while, then
// lets a few probes through to see whether it recovered. It trips on
// whichever of its conditions is met first.
type Breaker struct {
	// FailureRate trips the breaker when at least this share of the calls
	// in the window failed (5xx answers, connection failures, timeouts).
	// 0% turns this condition off.
	FailureRate Percent `yaml:"failure_rate" default:"50%"`
	// ConsecutiveFailures trips the breaker after this many failures in a
	// row. Zero turns this condition off.
	ConsecutiveFailures int `yaml:"consecutive_failures" default:"0"`
	// SlowCall trips the breaker when too many calls are slow. Omitted
	// turns this condition off.
	SlowCall *SlowCall `yaml:"slow_call"`
	// Window is how far back calls are counted for the rates.
	Window time.Duration `yaml:"window" default:"10s"`
	// MinCalls is how many calls the window must hold before a rate can
	// trip the breaker.
	MinCalls int `yaml:"min_calls" default:"20"`
	// OpenDuration is how long the breaker stays open before probing.
	OpenDuration time.Duration `yaml:"open_duration" default:"5s"`
	// HalfOpenProbes is how many probe requests are let through at once
	// while half-open.
	HalfOpenProbes int `yaml:"half_open_probes" default:"1"`
	// PerTarget gives every target its own breaker instead of one for the
	// whole upstream.
	PerTarget bool `yaml:"per_target" default:"false"`
}

// SlowCall is the breaker's slow-call condition.
type SlowCall struct {
	// Duration is how long a call must take to count as slow.
	Duration time.Duration `yaml:"duration" required:"true"`
	// Rate trips the breaker when at least this share of the calls in the
	// window were slow.
	Rate Percent `yaml:"rate" default:"50%"`
}

// Transport tunes the connection pool to an upstream's targets.
type Transport struct {
	// MaxIdleConnsPerHost is how many idle keep-alive connections are kept
	// per target.
	MaxIdleConnsPerHost int `yaml:"max_idle_conns_per_host" default:"64"`
	// IdleConnTimeout closes a keep-alive connection idle this long.
	IdleConnTimeout time.Duration `yaml:"idle_conn_timeout" default:"90s"`
	// DialTimeout bounds opening a connection (TCP and TLS).
	DialTimeout time.Duration `yaml:"dial_timeout" default:"5s"`
	// ResponseHeaderTimeout bounds the wait for a response's header after
	// the request was written. Zero means only the route timeout applies.
	ResponseHeaderTimeout time.Duration `yaml:"response_header_timeout" default:"0s"`
	// TLSServerName is the name checked in https targets' certificates.
	// Empty means the target's host.
	TLSServerName string `yaml:"tls_server_name"`
	// CAFile is a PEM bundle of the authorities trusted for https targets.
	// Empty means the system's.
	CAFile string `yaml:"ca_file"`
}

// Route sends the requests it matches to an upstream, through its policies.
type Route struct {
	// Name identifies the route in metrics, logs and the admin API; unique
	// among routes.
	Name string `yaml:"name" required:"true"`
	// Priority orders routes: a request goes to the matching route of
	// highest priority, the first in the file among equals.
	Priority int `yaml:"priority" default:"0"`
	// Match says which requests the route takes. Omitted matches every
	// request.
	Match Match `yaml:"match"`
	// Upstream names the upstream requests are forwarded to.
	Upstream string `yaml:"upstream" required:"true"`
	// StripPrefix is removed from the start of the path before forwarding
	// ("/api" turns "/api/users" into "/users"). It must be a prefix of
	// match.path_prefix when that is set. Not allowed with rewrite.prefix.
	StripPrefix string `yaml:"strip_prefix"`
	// Rewrite changes the request before it is forwarded.
	Rewrite Rewrite `yaml:"rewrite"`
	// RequestHeaders edits the request's header before forwarding.
	RequestHeaders HeaderEdits `yaml:"request_headers"`
	// ResponseHeaders edits the response's header before answering.
	ResponseHeaders HeaderEdits `yaml:"response_headers"`
	// MaxRequestBody refuses (413) requests with a longer body. Zero means
	// no limit.
	MaxRequestBody Size `yaml:"max_request_body" default:"8MiB"`
	// MaxRequestHeaders refuses (431) requests whose header fields (names,
	// values and the bytes that frame them, as received) are longer,
	// before any policy runs. It can only lower the listener's
	// max_header_bytes, which net/http enforces for every route. Zero means
	// no limit beyond the listener's.
	MaxRequestHeaders Size `yaml:"max_request_headers"`
	// Timeout bounds the whole request, retries and hedges included; the
	// client gets 504 when it passes. A shorter budget the client sends in
	// Grpc-Timeout or X-Request-Timeout caps it, and the upstream is told
	// the time left (or the per-try timeout, when shorter) in both fields.
	// It must be longer than 0s.
	Timeout time.Duration `yaml:"timeout" default:"15s"`
	// Policies keep the route standing. Each omitted policy is off.
	Policies Policies `yaml:"policies"`
}

// Match says which requests a route takes; every condition given must hold.
// At most one of path_exact, path_prefix and path_regex may be set.
type Match struct {
	// Host is the request's host (port ignored): "api.example.com", or
	// "*.example.com" for any subdomain. Empty means any host.
	Host string `yaml:"host"`
	// PathExact matches this path only.
	PathExact string `yaml:"path_exact"`
	// PathPrefix matches paths starting with this prefix, at a segment
	// boundary when it does not end in "/" ("/api" matches "/api" and
	// "/api/x", not "/apix").
	PathPrefix string `yaml:"path_prefix"`
	// PathRegex matches paths this regular expression (Go RE2 syntax) matches
	// in full.
	PathRegex string `yaml:"path_regex"`
	// Methods lists the methods matched ("GET", "POST"). Empty means any
	// method.
	Methods []string `yaml:"methods"`
	// Headers lists conditions on request header fields.
	Headers []HeaderMatch `yaml:"headers"`
}

// HeaderMatch is a condition on a request header field. With neither value
// nor regex, the field must be present.
type HeaderMatch struct {
	// Name is the header field's name.
	Name string `yaml:"name" required:"true"`
	// Value matches a field whose value is exactly this.
	Value string `yaml:"value"`
	// Regex matches a field whose whole value this regular expression (RE2)
	// matches. Not allowed with value.
	Regex string `yaml:"regex"`
	// Invert matches requests for which the condition does not hold.
	Invert bool `yaml:"invert" default:"false"`
}

// Rewrite changes a request before it is forwarded.
type Rewrite struct {
	// Prefix replaces match.path_prefix at the start of the path ("/v2/"
	// turns "/api/users" into "/v2/users" for path_prefix "/api/").
	// Requires match.path_prefix.
	Prefix string `yaml:"prefix"`
	// Host replaces the Host header sent upstream. Empty keeps the client's.
	Host string `yaml:"host"`
}

// HeaderEdits edits a header section: remove runs first, then set, then add.
type HeaderEdits struct {
	// Set replaces each named field with the given value.
	Set map[string]string `yaml:"set"`
	// Add appends the given value to each named field.
	Add map[string]string `yaml:"add"`
	// Remove deletes each named field.
	Remove []string `yaml:"remove"`
}

// Policies are a route's resilience policies, applied in this order,
// outermost first: fault, shed, rate_limit, concurrency, the upstream's
// breaker, retry (with hedge inside), and fallback around them all. Each
// omitted policy is off.
type Policies struct {
	// RateLimit caps the rate of requests, per key.
	RateLimit *RateLimit `yaml:"rate_limit"`
	// Concurrency caps the requests in flight.
	Concurrency *Concurrency `yaml:"concurrency"`
	// Shed rejects the least critical requests first when the gateway is
	// overloaded.
	Shed *Shed `yaml:"shed"`
	// Retry tries failed requests again.
	Retry *Retry `yaml:"retry"`
	// Hedge sends a second copy of a slow request and takes the first
	// answer.
	Hedge *Hedge `yaml:"hedge"`
	// Fallback answers when the upstream cannot.
	Fallback *Fallback `yaml:"fallback"`
	// Fault injects delays and errors, for testing resilience.
	Fault *Fault `yaml:"fault"`
	// SLO tracks an objective for the route and its error budget.
	SLO *SLO `yaml:"slo"`
	// Idempotency makes retried POST and PATCH requests safe with the
	// Idempotency-Key header.
	Idempotency *Idempotency `yaml:"idempotency"`
}

// Idempotency applies the IETF Idempotency-Key semantics to a route's POST
// and PATCH requests: the first request with a key goes upstream and its
// answer is stored; a retry after it finished gets that answer replayed
// (marked Idempotent-Replayed: true) without reaching the upstream; a
// retry while it still runs gets 409; the same key on another request
// (method, path or body differ) gets 422. Keys are kept per client (the
// client address after trusted_proxies), so a guessed key never reads
// another client's answer. Answers that ask for a retry (5xx, 408, 409,
// 425, 429) are not stored.
type Idempotency struct {
	// Required answers a POST or PATCH without an Idempotency-Key with 400.
	Required bool `yaml:"required" default:"false"`
	// TTL is how long a finished request's answer is kept and replayed.
	TTL time.Duration `yaml:"ttl" default:"24h"`
	// Lease is how long a running request holds its key; a gateway that
	// dies mid-request frees its keys after it. Make it longer than the
	// route's timeout.
	Lease time.Duration `yaml:"lease" default:"1m"`
	// MaxBody bounds the request body read to fingerprint a request (413
	// beyond it) and the stored answer's body (a larger answer is passed
	// on, not stored).
	MaxBody Size `yaml:"max_body" default:"1MiB"`
	// Store is where keys live: memory (this gateway alone, bounded) or
	// redis (shared by every gateway using the top-level redis section).
	Store IdempotencyStore `yaml:"store" default:"memory"`
}

// RateLimit caps the rate of requests per key, with a GCRA limit (a
// token bucket of burst tokens refilled at rate): in this gateway alone, or
// shared by every gateway using the same Redis. It is checked after
// shedding and before the concurrency limit. Every answer carries the IETF
// RateLimit-Policy and RateLimit fields (the policy named after the route);
// a rejected request gets 429 at once with Retry-After, those fields and a
// problem+json body, Levee-Reason rate_limited.
type RateLimit struct {
	// Rate is the sustained rate allowed per key, such as "100/s".
	Rate Rate `yaml:"rate" required:"true"`
	// Burst is how many requests may arrive at once above the rate. Zero
	// means the rate's count.
	Burst int `yaml:"burst" default:"0"`
	// Key lists what a request is counted by; its parts are joined. Each is
	// client_ip (after trusted_proxies), route, header:NAME or cookie:NAME
	// (a request without the header or cookie counts under an empty part:
	// all such requests share one allowance).
	Key []KeyPart `yaml:"key" default:"route"`
	// Redis shares the limit between every gateway using the same Redis,
	// which the top-level redis section must configure. The keys are
	// levee:gw:ROUTE:{KEY}, so gateways share a route's limit by its name.
	Redis bool `yaml:"redis" default:"false"`
	// OnRedisFailure is what happens while Redis cannot answer: fail_open
	// (admit every request), local_share (a local limit sized to this
	// instance's share) or fail_closed (reject every request). Only with
	// redis: true. A decision Redis has not answered within redis.timeout
	// is the fallback's, and its answer says so in the
	// Levee-RateLimit-Fallback header (the mode's name); the switch to the
	// fallback and back is logged. After three failures in a row Redis is
	// left alone for a second, then probed again.
	OnRedisFailure RedisFailure `yaml:"on_redis_failure" default:"local_share"`
	// Instances is the number of gateways sharing the limit, which sizes
	// local_share. Only with redis: true.
	Instances int `yaml:"instances" default:"1"`
}

// KeyPart is one part of a limiter's key: "client_ip", "route",
// "header:NAME" or "cookie:NAME".
type KeyPart string

// RedisFailure is what a Redis-backed rate limit does while Redis cannot
// answer.
type RedisFailure string

// The answers to a Redis failure.
const (
	FailOpen   RedisFailure = "fail_open"
	LocalShare RedisFailure = "local_share"
	FailClosed RedisFailure = "fail_closed"
)

func (RedisFailure) values() []string {
	return []string{string(FailOpen), string(LocalShare), string(FailClosed)}
}

// IdempotencyStore is where a route's Idempotency-Keys live.
type IdempotencyStore string

// The Idempotency-Key stores.
const (
	MemoryStore IdempotencyStore = "memory"
	RedisStore  IdempotencyStore = "redis"
)

func (IdempotencyStore) values() []string { return []string{string(MemoryStore), string(RedisStore)} }

// Concurrency caps the requests in flight: either a fixed bulkhead (max,
// with an optional queue) or an adaptive limit, exactly one of them. It is
// checked after the rate limit and before the breaker; a request holds its
// slot until its answer is written. A rejected request gets 503 with a
// problem+json body (Levee-Reason concurrency_limited).
type Concurrency struct {
	// Max is the bulkhead's fixed limit of requests in flight.
	Max int `yaml:"max"`
	// QueueTimeout is how long a request may wait for a free slot in the
	// bulkhead before it is rejected; up to max requests wait, in arrival
	// order, and more are rejected at once. Zero rejects at once.
	QueueTimeout time.Duration `yaml:"queue_timeout" default:"0s"`
	// Adaptive finds the limit on its own from the latency it measures.
	Adaptive *Adaptive `yaml:"adaptive"`
	// PerKey gives each key its own limit (its own bulkhead, or its own
	// adaptive limit learning from its own latency), with key parts as in
	// rate_limit.key, so that one tenant's flood cannot take another
	// tenant's capacity. Up to 10000 keys are held; an idle key (nothing in
	// flight) is dropped to make room, and a new key finding every held key
	// busy is rejected. Empty means one limit for the route.
	PerKey []KeyPart `yaml:"per_key"`
}

// Adaptive is an adaptive concurrency limit.
type Adaptive struct {
	// Algorithm is gradient2 (latency gradient, the usual choice), vegas
	// (queue estimate) or aimd (additive increase, multiplicative decrease on
	// failures and timeouts).
	Algorithm AdaptiveAlgorithm `yaml:"algorithm" default:"gradient2"`
	// Min is the lowest limit the algorithm may choose.
	Min int `yaml:"min" default:"1"`
	// Max is the highest limit the algorithm may choose.
	Max int `yaml:"max" default:"1000"`
	// Initial is the limit at start; it lies between min and max. Zero means
	// min.
	Initial int `yaml:"initial" default:"0"`
}

// AdaptiveAlgorithm names an adaptive concurrency algorithm.
type AdaptiveAlgorithm string

// The adaptive algorithms.
const (
	Gradient2 AdaptiveAlgorithm = "gradient2"
	Vegas     AdaptiveAlgorithm = "vegas"
	AIMD      AdaptiveAlgorithm = "aimd"
)

func (AdaptiveAlgorithm) values() []string {
	return []string{string(Gradient2), string(Vegas), string(AIMD)}
}

// Shed rejects the least critical requests first when the gateway is
// overloaded, by the request's criticality: CRITICAL_PLUS, CRITICAL,
// SHEDDABLE_PLUS or SHEDDABLE (case-insensitive, "-" for "_"). It is the
// first admission policy, before the rate limit: a shed request takes no
// rate-limit token. A shed request gets 503 with Retry-After and a
// problem+json body (Levee-Reason shed). CRITICAL_PLUS is never shed.
type Shed struct {
	// CriticalityHeader is the request header carrying the criticality.
	CriticalityHeader string `yaml:"criticality_header" default:"X-Criticality"`
	// Default is the criticality of a request without the header (or with
	// an unknown value): the route's own criticality, so that a route of
	// batch work can be SHEDDABLE as a whole.
	Default string `yaml:"default" default:"CRITICAL"`
	// CPU sheds while the process's CPU use, a share of its container's
	// quota, is at or above this share: the gateway then keeps the requests
	// in flight within what it measured it completes fastest (a BBR-style
	// estimate), refusing SHEDDABLE first, then SHEDDABLE_PLUS, then
	// CRITICAL. 0% turns CPU shedding off.
	CPU Percent `yaml:"cpu" default:"0%"`
	// MaxInFlight is the number of the route's requests in flight at which
	// SHEDDABLE requests are refused; SHEDDABLE_PLUS requests are refused at
	// 1.5 times it and CRITICAL at twice it, so the last capacity goes to
	// the requests that matter. Zero turns it off.
	MaxInFlight int `yaml:"max_in_flight" default:"0"`
}

// Retry tries failed requests again, with backoff. Only idempotent requests
// (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) and requests carrying the
// idempotency key header are retried; any other request is sent exactly
// once. Each retry goes to another target of the upstream than the ones
// that failed (passing its breaker, and preferring healthy targets) unless
// none is left, and every attempt counts for its target's breaker and
// outlier detection. A retry is never made once the client has been sent
// any part of the answer: only failures before the response header are
// retried. A 503 or 429 answer's Retry-After is waited for when it is
// longer than the backoff; a retry whose wait would pass the route's
// timeout is not made, and the client gets the upstream's answer.
type Retry struct {
	// Attempts is the most attempts a request makes, the first included: 1
	// means no retry.
	Attempts int `yaml:"attempts" default:"3"`
	// PerTryTimeout bounds each attempt's wait for the response header
	// (the body is then bounded by the route timeout); an attempt cut by it
	// is retried as a 504 (gateway_error, 5xx). Zero means only the route
	// timeout applies; otherwise it must be shorter than the route
	// timeout.
	PerTryTimeout time.Duration `yaml:"per_try_timeout" default:"0s"`
	// Backoff spaces the attempts.
	Backoff Backoff `yaml:"backoff"`
	// Budget caps retries as a share of requests, across the route, so that
	// retries cannot multiply an overload. Omitted means no budget.
	Budget *RetryBudget `yaml:"budget"`
	// RetryOn lists what is retried: a status code ("503"), a class
	// ("5xx"), gateway_error (502, 503 and 504, the upstream's or the
	// gateway's own for a target it could not reach or that did not answer
	// in time), connect_failure (no connection was made) or reset (the
	// connection broke before a response).
	RetryOn []string `yaml:"retry_on" default:"connect_failure,gateway_error"`
	// IdempotencyKeyHeader names the request header that makes a
	// non-idempotent request (such as a POST) safe to retry. Empty means
	// only idempotent methods are retried.
	IdempotencyKeyHeader string `yaml:"idempotency_key_header" default:"Idempotency-Key"`
	// MaxReplayBody is the longest request body kept in memory so that it
	// can be sent again. A request with a longer body is sent once and
	// never retried, since its body cannot be replayed. Zero retries only
	// requests without a body.
	MaxReplayBody Size `yaml:"max_replay_body" default:"64KiB"`
}

// Backoff spaces retries: exponential growth from initial, capped at max,
// with full jitter.
type Backoff struct {
	// Initial is the first delay, before jitter.
	Initial time.Duration `yaml:"initial" default:"25ms"`
	// Max caps every delay; it is at least initial.
	Max time.Duration `yaml:"max" default:"1s"`
	// Multiplier is the growth factor between delays; at least 1.
	Multiplier float64 `yaml:"multiplier" default:"2"`
}

// RetryBudget caps retries as a share of requests, as Envoy's retry budgets
// do: a retry is made only while the route's retries over the last 10s stay
// within ratio × its requests + min_per_second × 10s; otherwise the last
// attempt's answer goes to the client.
type RetryBudget struct {
	// Ratio is the share of requests that may be retried: 20% allows one
	// retry for every five requests.
	Ratio Percent `yaml:"ratio" default:"20%"`
	// MinPerSecond is the allowance of retries per second that holds however
	// few requests there are.
	MinPerSecond float64 `yaml:"min_per_second" default:"10"`
}

// Hedge sends another copy of a request that has not been answered after
// delay, to another target than the copies out (past its breaker), and
// takes the first answer that is not a 5xx or a failure to answer; the
// other copies are cancelled and count for nothing in their targets'
// breakers. Only reads are hedged: GET, HEAD and OPTIONS without a body. A
// failed copy starts no other (retry does that); with retry, every attempt
// is hedged, and copies draw on the retry budget when there is one.
type Hedge struct {
	// Delay is how long to wait before each extra copy; it must be shorter
	// than the route timeout.
	Delay time.Duration `yaml:"delay" required:"true"`
	// Max is the most extra copies per request.
	Max int `yaml:"max" default:"1"`
}

// Fallback answers a request the upstream could not: no answer (no
// connection, a reset, a timeout) or a 5xx answer, after retries, or a
// refusal by the upstream's breaker. It answers from a stale kept answer,
// from another upstream, or with a fixed response, tried in that order,
// and says which in the Levee-Reason header (fallback_stale,
// fallback_upstream, fallback_static). The upstream's breaker and outlier
// detection still count the failure. A client that went away or a route
// timeout that passed gets no fallback.
type Fallback struct {
	// Status is the fixed response's status code.
	Status int `yaml:"status" default:"503"`
	// Body is the fixed response's body. Not allowed with file.
	Body string `yaml:"body"`
	// File is a file holding the fixed response's body, read at load.
	// Relative paths are read from the configuration file's directory.
	File string `yaml:"file"`
	// ContentType is the fixed response's Content-Type.
	ContentType string `yaml:"content_type" default:"text/plain; charset=utf-8"`
	// Upstream names another upstream to try before the fixed response,
	// past its own breaker; its 5xx answers are not kept. A request whose
	// body was not kept for retries (see retry.max_replay_body) cannot be
	// sent to it.
	Upstream string `yaml:"upstream"`
	// StaleMaxAge serves the last good answer to the same GET request (same
	// host, path and query) if it is no older than this. Only whole 200
	// answers of at most 1MiB to requests without Authorization or Cookie,
	// not marked Cache-Control private or no-store and setting no cookie,
	// are kept. Zero keeps no answers.
	StaleMaxAge time.Duration `yaml:"stale_max_age" default:"0s"`
}

// Fault injects delays and errors into a share of requests, to test how
// clients and the gateway's own policies cope. Faults apply first, before
// every other policy of the route: an aborted request reaches no limit,
// breaker or upstream. The delay and the abort are drawn independently, so
// a request may be delayed and then aborted.
type Fault struct {
	// Delay holds requests back before forwarding them. The delay counts
	// against the route's timeout.
	Delay *FaultDelay `yaml:"delay"`
	// Abort answers requests with an error status instead of forwarding
	// them: a problem+json body with the reason fault_abort in the
	// Levee-Reason header.
	Abort *FaultAbort `yaml:"abort"`
	// Header limits faults to requests carrying this header field (any
	// value), so that a test can pick its own requests. Empty means any
	// request.
	Header string `yaml:"header"`
}

// FaultDelay delays a share of requests.
type FaultDelay struct {
	// Duration is how long a delayed request waits.
	Duration time.Duration `yaml:"duration" required:"true"`
	// Percent is the share of requests delayed.
	Percent Percent `yaml:"percent" required:"true"`
}

// FaultAbort answers a share of requests with an error status.
type FaultAbort struct {
	// Status is the status code answered, from 400 to 599.
	Status int `yaml:"status" default:"503"`
	// Percent is the share of requests aborted.
	Percent Percent `yaml:"percent" required:"true"`
}

// SLO is a service level objective for a route: the share of requests that
// must be good (not 5xx and, when latency is set, fast enough) over the
// window.
type SLO struct {
	// Objective is the share of good requests aimed at, below 100%.
	Objective Percent `yaml:"objective" required:"true"`
	// Latency, when set, makes a request slower than this bad.
	Latency time.Duration `yaml:"latency" default:"0s"`
	// Window is the rolling period the objective holds over.
	Window time.Duration `yaml:"window" default:"28d"`
}

// Redis is the Redis that backs shared rate limits: one address for a
// single server, several for a cluster.
type Redis struct {
	// Addrs lists host:port addresses of the server or the cluster's seed
	// nodes. At least one is required.
	Addrs []string `yaml:"addrs" required:"true"`
	// Username authenticates with Redis ACLs. ${NAME} is replaced with the
	// environment variable NAME.
	Username Secret `yaml:"username"`
	// Password authenticates with Redis. ${NAME} is replaced with the
	// environment variable NAME, which must be set; write the password
	// this way rather than in the file.
	Password Secret `yaml:"password"`
	// DB is the database number, from 0 to 15; only 0 with a cluster.
	DB int `yaml:"db" default:"0"`
	// Timeout bounds each rate-limit decision sent to Redis, round trip and
	// queueing included; a decision not answered in time is made by the
	// rate limit's on_redis_failure fallback. Commands are not retried.
	Timeout time.Duration `yaml:"timeout" default:"200ms"`
	// TLS connects to Redis over TLS.
	TLS bool `yaml:"tls" default:"false"`
}

// Secret is a string in which ${NAME} is replaced with the environment
// variable NAME at load, and "$${" stands for a literal "${". Only the
// fields documented as such are secrets; in every other string "${" is an
// error, so that a reference meant for expansion is never sent literally.
//
// A Secret prints and marshals as "[redacted]" (when not empty), so that
// logging or serving a configuration does not leak it; string(s) is its
// value.
type Secret string

// redacted is what a non-empty Secret prints as.
const redacted = "[redacted]"

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalText returns String, so that JSON and other encodings of a
// configuration do not carry the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Admin is the admin API: health, metrics, the running configuration and
// the dashboard.
type Admin struct {
	// Address is the host:port of the admin API. The default listens on
	// loopback only; any other address needs a token or client
	// certificates (tls.client_ca_file).
	Address string `yaml:"address" default:"127.0.0.1:9901"`
	// TokenFile is a file holding the bearer token the admin API requires.
	// Relative paths are read from the configuration file's directory. Not
	// allowed with token_env.
	TokenFile string `yaml:"token_file"`
	// TokenEnv names the environment variable holding the bearer token the
	// admin API requires; it must be set. Not allowed with token_file.
	TokenEnv string `yaml:"token_env"`
	// TLS serves the admin API over HTTPS; with client_ca_file, every
	// client must present a certificate that CA signed. Omitted means
	// plain HTTP.
	TLS *AdminTLS `yaml:"tls"`
	// AuditLog is where every change made through the admin API is
	// recorded, one JSON line each: "stdout", "stderr" or a file, appended
	// to (relative paths are taken from the configuration file's
	// directory). Empty means the gateway's own log. The latest records
	// are also kept in memory for GET /api/v1/audit.
	AuditLog string `yaml:"audit_log"`
}

// AdminTLS is the admin API's certificate and, optionally, the CA its
// clients' certificates must chain to. Relative paths are read from the
// configuration file's directory.
type AdminTLS struct {
	// CertFile is the certificate chain, leaf first (PEM).
	CertFile string `yaml:"cert_file" required:"true"`
	// KeyFile is the certificate's private key (PEM).
	KeyFile string `yaml:"key_file" required:"true"`
	// ClientCAFile holds the CA certificates (PEM) that sign the admin
	// API's clients' certificates. Set, every client must present one, and
	// the audit log names the certificate's subject. Empty means no client
	// certificate is asked for.
	ClientCAFile string `yaml:"client_ca_file"`
}

// AccessLog writes one JSON line per request.
type AccessLog struct {
	// Format is the line format; json is the only one.
	Format LogFormat `yaml:"format" default:"json"`
	// Path is "stdout", "stderr" or a file, appended to. Relative paths are
	// taken from the configuration file's directory.
	Path string `yaml:"path" default:"stdout"`
}

// LogFormat names an access log format.
type LogFormat string

// The access log formats.
const (
	JSON LogFormat = "json"
)

func (LogFormat) values() []string { return []string{string(JSON)} }

// Tracing makes one OpenTelemetry server span per request and exports the
// spans over OTLP. A span continues the trace of the caller's W3C Trace
// Context fields (traceparent, tracestate), and the request goes upstream
// with a traceparent naming the gateway's span, so the trace runs through
// the gateway. A span is named after its method and route and carries the
// route, upstream, target, status and the reason the gateway answered
// itself (levee.reason); the access log gains the trace_id.
type Tracing struct {
	// Endpoint is the collector's host:port.
	Endpoint string `yaml:"endpoint" required:"true"`
	// Protocol is the OTLP transport: http (protobuf over HTTP, port 4318
	// by convention, path /v1/traces), the only one, which every
	// OpenTelemetry Collector accepts; OTLP over gRPC would make the
	// observe module carry a gRPC client.
	Protocol TraceProtocol `yaml:"protocol" default:"http"`
	// Insecure sends spans without TLS.
	Insecure bool `yaml:"insecure" default:"false"`
	// SampleRatio is the share of new traces sampled; a request whose caller
	// sampled its trace is always sampled, and one whose caller did not,
	// never.
	SampleRatio Percent `yaml:"sample_ratio" default:"10%"`
	// ServiceName is the service.name resource attribute.
	ServiceName string `yaml:"service_name" default:"levee"`
}

// TraceProtocol names an OTLP transport.
type TraceProtocol string

// The OTLP transports.
const (
	HTTP TraceProtocol = "http"
)

func (TraceProtocol) values() []string { return []string{string(HTTP)} }
