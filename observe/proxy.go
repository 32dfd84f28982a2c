package observe

import (
	"net/http"
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
//     (one of the reasons the route was made with, "other" for any
//     reason it was not, "none" when the upstream answered);
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
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
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

// Route returns the recorder of one route forwarding to upstream. reasons
// are the values the route may pass to [RouteMetrics.Observe] as the
// reason it answered itself; any other becomes "other".
func (m *ProxyMetrics) Route(route, upstream string, reasons []string) *RouteMetrics {
	r := &RouteMetrics{m: m, route: route, upstream: upstream, reasons: map[string]int{"": 0}, names: []string{"none"}}
	for _, s := range reasons {
		if _, dup := r.reasons[s]; !dup {
			r.reasons[s] = len(r.names)
			r.names = append(r.names, s)
		}
	}
	r.other = len(r.names)
	r.names = append(r.names, "other")
	for c := range r.counts {
		r.counts[c] = make([]atomic.Pointer[prometheus.Counter], len(r.names))
	}
	return r
}

// RouteMetrics records the requests of one route. It is safe for
// concurrent use; a nil RouteMetrics records nothing.
type RouteMetrics struct {
	m               *ProxyMetrics
	route, upstream string
	reasons         map[string]int // reason → index in names
	names           []string
	other           int
	counts          [6][]atomic.Pointer[prometheus.Counter] // [class][reason]
	hists           [6]atomic.Pointer[prometheus.Observer]  // [class]
}

// Observe records one request: its status (0 when no whole answer was
// sent), the reason the proxy answered itself ("" when the upstream
// answered) and how long it took.
func (r *RouteMetrics) Observe(status int, reason string, d time.Duration) {
	if r == nil {
		return
	}
	c := classOf(status)
	i, ok := r.reasons[reason]
	if !ok {
		i = r.other
	}
	cnt := r.counts[c][i].Load()
	if cnt == nil {
		v := r.m.requests.WithLabelValues(r.route, r.upstream, statusClasses[c], r.names[i])
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
