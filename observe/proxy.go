package observe

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ProxyMetrics holds the Prometheus metrics of a reverse proxy (Levee's
// gateway, or any proxy built from Levee's policies) on a registry of its
// own, served by [ProxyMetrics.Handler]:
//
//   - levee_gateway_requests_total{route, upstream, status_class, reason}
//     counts answered requests; status_class is 1xx…5xx ("none" when no
//     whole answer was sent) and reason is why the proxy answered itself
//     ("none" when the upstream answered; see [ProxyMetrics.Route] for
//     how the set of reasons stays bounded);
//   - levee_gateway_request_duration_seconds{route, upstream, status_class}
//     is the time from the request's arrival to the end of its answer;
//   - levee_gateway_target_requests_total{upstream, target, status_class}
//     counts the requests forwarded to each target;
//   - the policy metrics of [ProxyMetrics.Policies] (breaker states from
//     the start, transitions, rejections), and the Go runtime's and the
//     process's collectors.
//
// Labels are bounded by the configuration: routes, upstreams and targets
// are named there, status classes and reasons are fixed sets. A series
// appears at its first request. Recording allocates nothing once a
// series exists.
type ProxyMetrics struct {
	reg      *prometheus.Registry
	policies *Metrics
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	targets  *prometheus.CounterVec

	reloadMu sync.Mutex
	reloads  *ReloadMetrics // made by Reloads on first use
}

// NewProxyMetrics makes the collectors on a new registry. opts.Buckets
// are the duration histogram's upper bounds (nil means [DefaultBuckets]);
// opts.ConstLabels are added to every series.
func NewProxyMetrics(opts MetricsOptions) (*ProxyMetrics, error) {
	reg := prometheus.NewRegistry()
	pol, err := NewMetrics(reg, opts)
	if err != nil {
		return nil, err
	}
	buckets := opts.Buckets
	if buckets == nil {
		buckets = DefaultBuckets
	}
	m := &ProxyMetrics{
		reg:      reg,
		policies: pol,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "levee_gateway_requests_total",
			Help:        "Requests answered, by route, upstream, status class and the reason the gateway answered itself (none when the upstream answered).",
			ConstLabels: opts.ConstLabels}, []string{"route", "upstream", "status_class", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "levee_gateway_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its answer, by route, upstream and status class.",
			Buckets: buckets, ConstLabels: opts.ConstLabels}, []string{"route", "upstream", "status_class"}),
		targets: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "levee_gateway_target_requests_total",
			Help:        "Requests forwarded to each target of an upstream, by status class.",
			ConstLabels: opts.ConstLabels}, []string{"upstream", "target", "status_class"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.targets,
		RuntimeCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Policies returns the policy metrics on the same registry: register each
// breaker, limiter and other policy of the proxy with it
// ([Metrics.Register]).
func (m *ProxyMetrics) Policies() *Metrics { return m.policies }

// Handler serves the registry in Prometheus' exposition formats, for a
// /metrics endpoint.
func (m *ProxyMetrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// statusClasses are the status_class label values, indexed by status/100
// (0 for no whole answer).
var statusClasses = [6]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx"}

func classOf(status int) int {
	c := status / 100
	if c < 1 || c > 5 {
		return 0
	}
	return c
}

// maxReasons bounds the reason label values of one route, "none" and
// "other" included: reasons past it are counted as "other".
const maxReasons = 32

// Route returns the recorder of one route forwarding to upstream. reasons
// are the values the route is expected to pass to [RouteMetrics.Observe]
// as the reason it answered itself; others are learned at their first
// request, up to 30 distinct reasons per route, and a reason past that,
// or one that is not a short word of letters, digits and "_-.:", is
// counted as "other".
func (m *ProxyMetrics) Route(route, upstream string, reasons []string) *RouteMetrics {
	r := &RouteMetrics{m: m, route: route, upstream: upstream}
	t := &reasonTable{index: map[string]int{"": 0, "other": 1}, names: []string{"none", "other"}}
	for _, s := range reasons {
		t = t.with(s)
	}
	r.table.Store(t)
	return r
}

// RouteMetrics records the requests of one route. It is safe for
// concurrent use; a nil RouteMetrics records nothing.
type RouteMetrics struct {
	m               *ProxyMetrics
	route, upstream string
	table           atomic.Pointer[reasonTable]
	learning        sync.Mutex                                        // serialises adding a reason
	counts          [6][maxReasons]atomic.Pointer[prometheus.Counter] // [class][reason]
	hists           [6]atomic.Pointer[prometheus.Observer]            // [class]
}

// reasonTable maps reasons to their index in counts. It is never changed
// once stored: a new reason stores a copy.
type reasonTable struct {
	index map[string]int
	names []string
}

// with returns t with reason added, or t itself when reason is known, full
// or not a valid label value.
func (t *reasonTable) with(reason string) *reasonTable {
	if _, ok := t.index[reason]; ok || len(t.names) >= maxReasons || label(reason) != reason {
		return t
	}
	n := &reasonTable{index: make(map[string]int, len(t.index)+1), names: append(t.names[:len(t.names):len(t.names)], reason)}
	for k, v := range t.index {
		n.index[k] = v
	}
	n.index[reason] = len(n.names) - 1
	return n
}

// reasonIndex returns reason's index, learning it if it is new.
func (r *RouteMetrics) reasonIndex(reason string) int {
	if i, ok := r.table.Load().index[reason]; ok {
		return i
	}
	r.learning.Lock()
	defer r.learning.Unlock()
	t := r.table.Load().with(reason)
	r.table.Store(t)
	if i, ok := t.index[reason]; ok {
		return i
	}
	return 1 // other
}

// Observe records one request: its status (0 when no whole answer was
// sent), the reason the proxy answered itself ("" when the upstream
// answered) and how long it took.
func (r *RouteMetrics) Observe(status int, reason string, d time.Duration) {
	if r == nil {
		return
	}
	c := classOf(status)
	i := r.reasonIndex(reason)
	cnt := r.counts[c][i].Load()
	if cnt == nil {
		v := r.m.requests.WithLabelValues(r.route, r.upstream, statusClasses[c], r.table.Load().names[i])
		r.counts[c][i].Store(&v)
		cnt = &v
	}
	(*cnt).Inc()
	h := r.hists[c].Load()
	if h == nil {
		v := r.m.duration.WithLabelValues(r.route, r.upstream, statusClasses[c])
		r.hists[c].Store(&v)
		h = &v
	}
	(*h).Observe(d.Seconds())
}

// Target returns the recorder of one target of upstream; target names it
// (its host:port).
func (m *ProxyMetrics) Target(upstream, target string) *TargetMetrics {
	return &TargetMetrics{m: m, upstream: upstream, target: target}
}

// TargetMetrics counts the requests forwarded to one target. It is safe
// for concurrent use; a nil TargetMetrics records nothing.
type TargetMetrics struct {
	m                *ProxyMetrics
	upstream, target string
	counts           [6]atomic.Pointer[prometheus.Counter]
}

// Observe counts one request forwarded to the target, by its status (0
// when no whole answer was sent).
func (t *TargetMetrics) Observe(status int) {
	if t == nil {
		return
	}
	c := classOf(status)
	cnt := t.counts[c].Load()
	if cnt == nil {
		v := t.m.targets.WithLabelValues(t.upstream, t.target, statusClasses[c])
		t.counts[c].Store(&v)
		cnt = &v
	}
	(*cnt).Inc()
}
