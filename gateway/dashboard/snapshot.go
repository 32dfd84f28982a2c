package dashboard

import "time"

// Snapshot is what the dashboard shows at one instant: the JSON of every
// Server-Sent Event of the stream. It belongs to the dashboard, not to the
// gateway's internals, so that a [Source] may fill it from anything: the
// proxy's metrics and breakers today, the admin API's state tomorrow. A
// list a Source cannot fill stays empty and its view says "not reported".
//
// Rates are per second over the last interval; shares are percentages,
// 0–100; durations are in seconds. [Dashboard] cuts every list to the
// caps of [Caps] before sending it, and names the lists it cut in
// Truncated.
type Snapshot struct {
	// Time is when the snapshot was taken.
	Time time.Time `json:"time"`
	// Routes are the routes, in configuration order.
	Routes []Route `json:"routes"`
	// Upstreams are the upstreams, in configuration order.
	Upstreams []Upstream `json:"upstreams"`
	// Limits are the routes' rate and concurrency limits.
	Limits []Limit `json:"limits"`
	// Overload is the adaptive limits and shedding of the routes that have
	// them.
	Overload []Overload `json:"overload"`
	// SLOs are the objectives and their error budgets.
	SLOs []SLO `json:"slos"`
	// Config is the running configuration's version and history; nil
	// when the Source does not know it.
	Config *Config `json:"config,omitempty"`
	// Truncated names the kinds of list cut to their cap ("routes",
	// "upstreams[].targets", …, and "bytes" when the caps were halved to
	// fit [Caps].Bytes); empty when nothing was cut.
	Truncated []string `json:"truncated,omitempty"`
}

// Route is one route's traffic over the last interval.
type Route struct {
	Name     string `json:"name"`
	Upstream string `json:"upstream"`
	// RequestsPerSecond counts every answered request, refusals included.
	RequestsPerSecond float64 `json:"rps"`
	// ErrorRate is the share of answers that were 5xx or cut off.
	ErrorRate float64 `json:"error_rate"`
	// P50 and P99 are duration quantiles in seconds, estimated from the
	// duration histogram; zero when no request ended in the interval.
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	// Refusals are the requests per second the gateway answered itself,
	// by reason (breaker_open, rate_limited, shed, …), largest first.
	Refusals []Count `json:"refusals,omitempty"`
}

// Count is a named figure: a reason's rate, a key's usage.
type Count struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// Upstream is one upstream: its breaker and its targets.
type Upstream struct {
	Name string `json:"name"`
	// Breaker is the upstream's breaker; nil when it has none or one per
	// target.
	Breaker *Breaker `json:"breaker,omitempty"`
	Targets []Target `json:"targets"`
}

// Target is one instance of an upstream.
type Target struct {
	// Address is the target's host:port.
	Address string `json:"address"`
	// Health is "healthy", "unhealthy" or "" when not reported.
	Health string `json:"health,omitempty"`
	// Ejected reports an outlier ejection in force.
	Ejected           bool     `json:"ejected,omitempty"`
	RequestsPerSecond float64  `json:"rps"`
	ErrorRate         float64  `json:"error_rate"`
	Breaker           *Breaker `json:"breaker,omitempty"`
}

// Breaker is a circuit breaker's state and the transitions that led there.
type Breaker struct {
	// State is closed, open, half_open, forced_open, disabled or
	// metrics_only.
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// FailureRate is the share of failures in the current window, and
	// Calls the calls it holds.
	FailureRate float64 `json:"failure_rate"`
	Calls       int64   `json:"calls"`
	// RetryAfter is the time left, in seconds, before an open breaker
	// lets probes through.
	RetryAfter float64 `json:"retry_after,omitempty"`
	// LastTrip is why it last opened; nil when it never tripped.
	LastTrip *Trip `json:"last_trip,omitempty"`
	// Transitions are the latest state changes, oldest first.
	Transitions []Transition `json:"transitions,omitempty"`
}

// Trip is the reason and the figures of one opening.
type Trip struct {
	Time time.Time `json:"time"`
	// Reason is failure_rate, slow_call_rate, consecutive_failures, …
	Reason string `json:"reason"`
	// Value is what was measured and Threshold the limit it reached, in
	// the reason's unit (a percentage for rates, a count otherwise).
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	// Wait is the open wait chosen, in seconds.
	Wait float64 `json:"wait"`
	// Error is the error of the call that tripped it, if any.
	Error string `json:"error,omitempty"`
}

// Transition is one state change of a breaker.
type Transition struct {
	Time      time.Time `json:"time"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Reason    string    `json:"reason"`
	Value     float64   `json:"value,omitempty"`
	Threshold float64   `json:"threshold,omitempty"`
}

// Limit is one route's limit and how much of it is used.
type Limit struct {
	Route string `json:"route"`
	// Kind is "rate" (Limit and Used in requests per second) or
	// "concurrency" (in requests in flight).
	Kind  string  `json:"kind"`
	Limit float64 `json:"limit"`
	// Used is the current use, in the unit of Limit; negative when not
	// reported.
	Used float64 `json:"used"`
	// Refused is the requests per second the limit refused.
	Refused float64 `json:"refused"`
	// TopKeys are the busiest keys of a keyed limit, by use.
	TopKeys []Count `json:"top_keys,omitempty"`
	// Redis is "" for a local limit, "ok" for a shared one whose Redis
	// answers, "fallback" while it falls back to local state.
	Redis string `json:"redis,omitempty"`
}

// Overload is one route's adaptive concurrency and shedding.
type Overload struct {
	Route string `json:"route"`
	// Limit is the adaptive limit now and InFlight the requests in
	// flight; negative when not reported.
	Limit    float64 `json:"limit"`
	InFlight float64 `json:"in_flight"`
	// Shed are the requests per second shed, by criticality (or "all"
	// when the criticality is not reported).
	Shed []Count `json:"shed,omitempty"`
}

// SLO is one objective and its error budget.
type SLO struct {
	Name  string `json:"name"`
	Route string `json:"route,omitempty"`
	// Objective is the target share of good events.
	Objective float64 `json:"objective"`
	// Window is the objective's window in seconds.
	Window float64 `json:"window"`
	// Burn are the burn rates over the alert windows, shortest first: 1
	// spends the budget in exactly one window.
	Burn []Burn `json:"burn"`
	// BudgetRemaining is the share of the error budget left; negative
	// when overspent.
	BudgetRemaining float64 `json:"budget_remaining"`
	// TimeToExhaustion is how long the budget lasts at the burn rate of
	// the last hour, in seconds; -1 when nothing burns.
	TimeToExhaustion float64 `json:"time_to_exhaustion"`
	// Firing are the severities of the alerts firing.
	Firing []string `json:"firing,omitempty"`
}

// Burn is the burn rate over one window.
type Burn struct {
	// Window is the window's length in seconds.
	Window float64 `json:"window"`
	Rate   float64 `json:"rate"`
}

// Config is the running configuration's version, its history and the
// state of the last reload.
type Config struct {
	Version int       `json:"version"`
	Hash    string    `json:"hash,omitempty"`
	Applied time.Time `json:"applied_at"`
	// History are the latest applied versions, newest first.
	History []ConfigVersion `json:"history,omitempty"`
	// Reload is the state of the current or last reload; nil when there
	// was none.
	Reload *Reload `json:"reload,omitempty"`
}

// ConfigVersion is one applied configuration.
type ConfigVersion struct {
	Version int       `json:"version"`
	Hash    string    `json:"hash,omitempty"`
	Source  string    `json:"source,omitempty"`
	Applied time.Time `json:"applied_at"`
	// Bad marks a version rolled back by the self-check, with Reason.
	Bad    bool   `json:"bad,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Reload is the state of a reload and its self-check.
type Reload struct {
	// Status is "running", "applied", "rolled_back" or "failed".
	Status string `json:"status"`
	// SelfCheck is "pending", "passed" or "failed"; empty without one.
	SelfCheck string `json:"self_check,omitempty"`
	Message   string `json:"message,omitempty"`
}
