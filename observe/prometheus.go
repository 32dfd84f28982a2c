package observe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/slo"
)

// MetricsOptions configures [NewMetrics]. The zero value is ready to use.
type MetricsOptions struct {
	// Buckets are the latency histogram's upper bounds in seconds. Nil means
	// a range from 1ms to 10s suited to service calls.
	Buckets []float64
	// ConstLabels are added to every metric (for example the service name).
	ConstLabels prometheus.Labels
}

// DefaultBuckets are the latency buckets used when none are given.
var DefaultBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics holds Levee's Prometheus collectors. Make it with [NewMetrics]:
// the zero value is registered nowhere, so it records nothing (its listener
// and gates do nothing) and its Watch returns an error.
type Metrics struct {
	state       *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	rejections  *prometheus.CounterVec
	retries     *prometheus.CounterVec
	retryDelay  *prometheus.HistogramVec
	limit       *prometheus.GaugeVec
	hedges      *prometheus.CounterVec
	fallbacks   *prometheus.CounterVec
	panics      *prometheus.CounterVec
	infos       *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	requests    *prometheus.CounterVec
	sloEvents   *prometheus.CounterVec

	mu     sync.Mutex
	states map[[2]string]string // policy,name → current state

	reg         prometheus.Registerer
	constLabels prometheus.Labels
}

// NewMetrics creates the collectors and registers them with reg (nil means
// prometheus.DefaultRegisterer). It fails when a collector of the same name
// is already registered.
func NewMetrics(reg prometheus.Registerer, opts MetricsOptions) (*Metrics, error) {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	buckets := opts.Buckets
	if buckets == nil {
		buckets = DefaultBuckets
	}
	cl := opts.ConstLabels
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: cl}, labels)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: cl}, labels)
	}
	m := &Metrics{
		state:       gauge("levee_policy_state", "1 for the state a policy is in (a breaker's closed, open, half_open…), 0 for the states it has left.", "policy", "name", "state"),
		transitions: counter("levee_state_transitions_total", "State changes of policies, by the state left, the state entered and the reason.", "policy", "name", "from", "to", "reason"),
		rejections:  counter("levee_rejections_total", "Calls refused by a policy, by reason (open, limited, bulkhead_full, shed, budget_exhausted, other).", "policy", "name", "reason"),
		retries:     counter("levee_retries_total", "Retries scheduled, by why the delay was chosen.", "policy", "name", "reason"),
		retryDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "levee_retry_delay_seconds",
			Help: "Delays chosen before retries.", Buckets: buckets, ConstLabels: cl}, []string{"policy", "name"}),
		limit:     gauge("levee_limit", "The current limit of an adaptive policy (concurrency limit, rate).", "policy", "name"),
		hedges:    counter("levee_hedges_total", "Hedged attempts started.", "policy", "name"),
		fallbacks: counter("levee_fallbacks_total", "Results replaced by a fallback, by trigger.", "policy", "name", "reason"),
		panics:    counter("levee_panics_total", "Panics recovered from guarded calls and handlers.", "policy", "name"),
		infos:     counter("levee_policy_events_total", "Other notable policy events (a limiter falling back to local state, chaos injections), by reason.", "policy", "name", "reason"),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "levee_request_duration_seconds",
			Help: "Latency of calls through a Requests gate, by outcome.", Buckets: buckets, ConstLabels: cl}, []string{"name", "outcome"}),
		requests:    counter("levee_requests_total", "Calls through a Requests gate, by outcome (success, failure, ignored).", "name", "outcome"),
		sloEvents:   counter(slo.EventsMetric, sloEventsHelp, "slo", "good"),
		states:      map[[2]string]string{},
		reg:         reg,
		constLabels: cl,
	}
	for _, c := range []prometheus.Collector{m.state, m.transitions, m.rejections, m.retries, m.retryDelay,
		m.limit, m.hedges, m.fallbacks, m.panics, m.infos, m.duration, m.requests, m.sloEvents} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Listener returns the listener that turns events into metrics. Register it
// on every policy: b.OnEvent(m.Listener()).
func (m *Metrics) Listener() levee.Listener { return m.observe }

// made reports whether m was made by [NewMetrics].
func (m *Metrics) made() bool { return m.state != nil }

func (m *Metrics) observe(e levee.Event) {
	if !m.made() {
		return
	}
	name := e.Name
	switch e.Kind {
	case levee.EventStateChange:
		to := label(e.To)
		m.transitions.WithLabelValues(e.Policy, name, label(e.From), to, label(e.Reason)).Inc()
		key := [2]string{e.Policy, name}
		m.mu.Lock()
		prev, seen := m.states[key]
		m.states[key] = to
		m.mu.Unlock()
		if seen && prev != to {
			m.state.WithLabelValues(e.Policy, name, prev).Set(0)
		} else if !seen && e.From != "" {
			m.state.WithLabelValues(e.Policy, name, label(e.From)).Set(0)
		}
		m.state.WithLabelValues(e.Policy, name, to).Set(1)
	case levee.EventRejected:
		m.rejections.WithLabelValues(e.Policy, name, RejectionReason(e.Err)).Inc()
	case levee.EventRetry:
		m.retries.WithLabelValues(e.Policy, name, label(e.Reason)).Inc()
		m.retryDelay.WithLabelValues(e.Policy, name).Observe(e.Wait.Seconds())
	case levee.EventLimitChange:
		m.limit.WithLabelValues(e.Policy, name).Set(e.Value)
	case levee.EventHedge:
		m.hedges.WithLabelValues(e.Policy, name).Inc()
	case levee.EventFallback:
		m.fallbacks.WithLabelValues(e.Policy, name, label(e.Reason)).Inc()
	case levee.EventPanic:
		m.panics.WithLabelValues(e.Policy, name).Inc()
	default:
		m.infos.WithLabelValues(e.Policy, name, label(e.Reason)).Inc()
	}
}

// RejectionReason names the kind of a rejection for a metric label: open,
// limited, bulkhead_full, shed, budget_exhausted, timeout or other.
func RejectionReason(err error) string {
	switch {
	case errors.Is(err, levee.ErrOpen):
		return "open"
	case errors.Is(err, levee.ErrLimited):
		return "limited"
	case errors.Is(err, levee.ErrBulkheadFull):
		return "bulkhead_full"
	case errors.Is(err, levee.ErrShed):
		return "shed"
	case errors.Is(err, levee.ErrBudgetExhausted):
		return "budget_exhausted"
	case errors.Is(err, levee.ErrTimeout):
		return "timeout"
	}
	return "other"
}

// label keeps label values bounded: a short word of lower-case letters,
// digits, '_', '-', '.' or ':' passes; the part before the first space or
// '(' of a longer reason ("failure_rate 62% >= 50%") is kept; anything else
// becomes "other".
func label(s string) string {
	if i := strings.IndexAny(s, " (="); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		return "other"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':' || c >= 'A' && c <= 'Z') {
			return "other"
		}
	}
	return strings.ToLower(s)
}

// Requests returns a gate that admits every call and records its latency and
// outcome under name: levee_request_duration_seconds and
// levee_requests_total. Put it outermost among the gates of a pipeline, or
// wrap a handler with leveehttp.Gate(m.Requests("api"), …). c is the clock
// that times calls; nil means the real clock.
func (m *Metrics) Requests(name string, c clock.Clock) *RequestsGate {
	c = clock.Or(c)
	if !m.made() {
		return &RequestsGate{clk: c}
	}
	return &RequestsGate{
		clk: c,
		hist: [3]prometheus.Observer{
			m.duration.WithLabelValues(name, levee.Success.String()),
			m.duration.WithLabelValues(name, levee.Failure.String()),
			m.duration.WithLabelValues(name, levee.Ignored.String()),
		},
		count: [3]prometheus.Counter{
			m.requests.WithLabelValues(name, levee.Success.String()),
			m.requests.WithLabelValues(name, levee.Failure.String()),
			m.requests.WithLabelValues(name, levee.Ignored.String()),
		},
	}
}

// SLO returns a gate that admits every call and counts it as an event of the
// SLO named slo in levee_slo_events_total: good when good(outcome) says so,
// not counted when the outcome is ignored. Nil good counts successes as good.
// The Prometheus rules generated by package slo read this series.
func (m *Metrics) SLO(slo string, good func(levee.Outcome) bool, c clock.Clock) *RequestsGate {
	if !m.made() {
		return &RequestsGate{clk: clock.Or(c)}
	}
	return &RequestsGate{
		clk:     clock.Or(c),
		good:    good,
		sloGood: m.sloEvents.WithLabelValues(slo, "true"),
		sloBad:  m.sloEvents.WithLabelValues(slo, "false"),
	}
}

// RequestsGate is the gate returned by [Metrics.Requests] and [Metrics.SLO].
// Its path takes two clock readings and allocates nothing. The zero value
// admits every call and records nothing.
type RequestsGate struct {
	clk     clock.Clock
	hist    [3]prometheus.Observer
	count   [3]prometheus.Counter
	good    func(levee.Outcome) bool
	sloGood prometheus.Counter // set for an SLO gate, nil for a Requests gate
	sloBad  prometheus.Counter
}

// Stage places the gate outermost among gates, so its latency includes
// theirs and it sees their rejections.
func (g *RequestsGate) Stage() levee.Stage { return levee.StageBreaker - 1 }

// Acquire admits every call and notes when it started.
func (g *RequestsGate) Acquire(context.Context) (levee.Permit, error) {
	return levee.NewPermit(g, 0, clock.Or(g.clk).Nanotime()), nil
}

// Release records the call's outcome.
func (g *RequestsGate) Release(p levee.Permit, o levee.Outcome) {
	if g.sloGood != nil {
		if o.Result == levee.Ignored {
			return
		}
		good := o.Result == levee.Success
		if g.good != nil {
			if o.Latency == 0 {
				o.Latency = time.Duration(clock.Or(g.clk).Nanotime() - p.Start())
			}
			good = g.good(o)
		}
		if good {
			g.sloGood.Inc()
		} else {
			g.sloBad.Inc()
		}
		return
	}
	r := o.Result
	if r > levee.Ignored {
		r = levee.Failure
	}
	if g.hist[r] == nil { // the zero gate, or one from a zero Metrics
		return
	}
	g.hist[r].Observe(float64(g.clk.Nanotime()-p.Start()) / 1e9)
	g.count[r].Inc()
}

var _ levee.Gate = (*RequestsGate)(nil)

// Watch exports fn's value, read at every scrape, as
// levee_policy_value{policy, name, quantity}: a policy's live quantity that
// no event reports, such as a retry budget's tokens
// (m.Watch("retry", "payments", "budget_tokens", budget.Tokens)), a bulkhead's
// in-flight calls or a limiter's remaining quota. Watching the same
// (policy, name, quantity) twice returns an error, as does watching with a
// nil fn or on a Metrics not made by [NewMetrics].
func (m *Metrics) Watch(policy, name, quantity string, fn func() float64) error {
	if !m.made() {
		return errors.New("observe: Watch on a Metrics not made by NewMetrics")
	}
	if fn == nil {
		return fmt.Errorf("observe: Watch(%q, %q, %q): nil func", policy, name, quantity)
	}
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "levee_policy_value",
		Help:        "A live quantity of a policy (budget tokens, in-flight calls, remaining quota), read at scrape time.",
		ConstLabels: m.labels(prometheus.Labels{"policy": policy, "name": name, "quantity": quantity}),
	}, fn)
	return m.reg.Register(g)
}

func (m *Metrics) labels(l prometheus.Labels) prometheus.Labels {
	for k, v := range m.constLabels {
		l[k] = v
	}
	return l
}
