package observe

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/levee-go/levee"
)

// OTel records policy events as OpenTelemetry metrics and as span events on
// the span active in the event's call context. Make it with [NewOTel]: the
// zero value has no instruments and records nothing.
type OTel struct {
	transitions metric.Int64Counter
	rejections  metric.Int64Counter
	retries     metric.Int64Counter
	hedges      metric.Int64Counter
	fallbacks   metric.Int64Counter
	panics      metric.Int64Counter
	limit       metric.Float64Gauge
}

// NewOTel creates the instruments from mp's meter "github.com/levee-go/levee".
func NewOTel(mp metric.MeterProvider) (*OTel, error) {
	m := mp.Meter("github.com/levee-go/levee")
	o := &OTel{}
	var err error
	counter := func(dst *metric.Int64Counter, name, desc string) {
		if err == nil {
			*dst, err = m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit("{event}"))
		}
	}
	counter(&o.transitions, "levee.state_transitions", "State changes of policies.")
	counter(&o.rejections, "levee.rejections", "Calls refused by a policy.")
	counter(&o.retries, "levee.retries", "Retries scheduled.")
	counter(&o.hedges, "levee.hedges", "Hedged attempts started.")
	counter(&o.fallbacks, "levee.fallbacks", "Results replaced by a fallback.")
	counter(&o.panics, "levee.panics", "Panics recovered.")
	if err == nil {
		o.limit, err = m.Float64Gauge("levee.limit", metric.WithDescription("Current limit of an adaptive policy."))
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

// Listener returns the listener to register on policies.
func (o *OTel) Listener() levee.Listener { return o.observe }

func (o *OTel) observe(e levee.Event) {
	if o.limit == nil { // not made by NewOTel
		return
	}
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	base := []attribute.KeyValue{attribute.String("levee.policy", e.Policy), attribute.String("levee.name", e.Name)}
	var spanEvent string
	var extra []attribute.KeyValue
	switch e.Kind {
	case levee.EventStateChange:
		extra = []attribute.KeyValue{attribute.String("levee.from", label(e.From)), attribute.String("levee.to", label(e.To)), attribute.String("levee.reason", label(e.Reason))}
		o.transitions.Add(ctx, 1, metric.WithAttributes(append(base, extra...)...))
		spanEvent = "levee.state_change"
	case levee.EventRejected:
		extra = []attribute.KeyValue{attribute.String("levee.reason", RejectionReason(e.Err))}
		o.rejections.Add(ctx, 1, metric.WithAttributes(append(base, extra...)...))
		if wait, ok := levee.RetryAfter(e.Err); ok {
			extra = append(extra, attribute.Float64("levee.retry_after_seconds", wait.Seconds()))
		}
		spanEvent = "levee.rejected"
	case levee.EventRetry:
		extra = []attribute.KeyValue{attribute.String("levee.reason", label(e.Reason))}
		o.retries.Add(ctx, 1, metric.WithAttributes(append(base, extra...)...))
		extra = append(extra, attribute.Int("levee.attempt", e.Attempt), attribute.Float64("levee.delay_seconds", e.Wait.Seconds()))
		spanEvent = "levee.retry"
	case levee.EventHedge:
		o.hedges.Add(ctx, 1, metric.WithAttributes(base...))
		extra = []attribute.KeyValue{attribute.Int("levee.attempt", e.Attempt)}
		spanEvent = "levee.hedge"
	case levee.EventFallback:
		extra = []attribute.KeyValue{attribute.String("levee.reason", label(e.Reason))}
		o.fallbacks.Add(ctx, 1, metric.WithAttributes(append(base, extra...)...))
		spanEvent = "levee.fallback"
	case levee.EventPanic:
		o.panics.Add(ctx, 1, metric.WithAttributes(base...))
		if e.Err != nil {
			extra = []attribute.KeyValue{attribute.String("levee.panic", e.Err.Error())}
		}
		spanEvent = "levee.panic"
	case levee.EventLimitChange:
		o.limit.Record(ctx, e.Value, metric.WithAttributes(base...))
		return
	default:
		return
	}
	if e.Context == nil {
		return
	}
	span := trace.SpanFromContext(e.Context)
	if !span.IsRecording() {
		return
	}
	span.AddEvent(spanEvent, trace.WithAttributes(append(base, extra...)...))
}
