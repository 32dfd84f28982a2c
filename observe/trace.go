package observe

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TracingOptions configures [NewHTTPTracing].
type TracingOptions struct {
	// Endpoint is the OTLP collector's host:port ("otel-collector:4318").
	// Required unless Exporter is set.
	Endpoint string
	// Protocol is the OTLP transport: "http" (protobuf over HTTP, path
	// /v1/traces), the only one and the default when empty. OTLP over gRPC
	// is left out so that this module carries no gRPC client; pass its
	// exporter as Exporter to use it.
	Protocol string
	// Insecure sends spans without TLS.
	Insecure bool
	// SampleRatio is the share of new traces sampled, from 0 to 1. A
	// request whose caller sampled its trace (the sampled flag of its
	// traceparent) is always sampled, and one whose caller did not, never.
	SampleRatio float64
	// ServiceName is the service.name resource attribute. Empty means
	// "levee".
	ServiceName string
	// Exporter, when set, receives the spans instead of an OTLP exporter
	// built from Endpoint, Protocol and Insecure.
	Exporter sdktrace.SpanExporter
}

// HTTPTracing makes OpenTelemetry server spans for the requests a proxy
// or server handles, continuing the caller's trace from its W3C Trace
// Context header fields (traceparent, tracestate) and passing the trace
// on to the next hop in the same fields. Spans are exported in batches;
// [HTTPTracing.Shutdown] sends the rest. Make it with [NewHTTPTracing].
type HTTPTracing struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// NewHTTPTracing builds the exporter and the tracer provider. It does not
// wait for the collector: spans that cannot be sent are dropped and the
// failure reported through OpenTelemetry's error handler.
func NewHTTPTracing(ctx context.Context, opts TracingOptions) (*HTTPTracing, error) {
	if opts.SampleRatio < 0 || opts.SampleRatio > 1 {
		return nil, fmt.Errorf("observe: TracingOptions.SampleRatio = %v, want 0 to 1", opts.SampleRatio)
	}
	exp := opts.Exporter
	if exp == nil {
		var err error
		if exp, err = otlpExporter(opts); err != nil {
			return nil, err
		}
	}
	name := opts.ServiceName
	if name == "" {
		name = "levee"
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", name)))
	if err != nil {
		return nil, fmt.Errorf("observe: tracing resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(opts.SampleRatio))),
	)
	return &HTTPTracing{
		tp:     tp,
		tracer: tp.Tracer("github.com/levee-go/levee/observe"),
		prop:   propagation.TraceContext{},
	}, nil
}

func otlpExporter(opts TracingOptions) (sdktrace.SpanExporter, error) {
	if opts.Endpoint == "" {
		return nil, errors.New("observe: TracingOptions.Endpoint is empty")
	}
	switch opts.Protocol {
	case "", "http":
		return newOTLPHTTP(opts.Endpoint, opts.Insecure), nil
	}
	return nil, fmt.Errorf("observe: TracingOptions.Protocol = %q, want http", opts.Protocol)
}

// Start starts the server span of the request r: a child of the trace
// context in r's traceparent and tracestate fields when they are valid,
// else the root of a new trace. It returns r with the span in its context
// (so that policies' span events land on it) and the span, which the
// caller ends with [HTTPSpan.End]. The span's name is the method until End
// names the route.
func (t *HTTPTracing) Start(r *http.Request) (*http.Request, HTTPSpan) {
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
		))
	return r.WithContext(ctx), HTTPSpan{span: span, prop: t.prop, method: r.Method}
}

// Shutdown exports the spans not yet sent and stops the exporter, within
// ctx.
func (t *HTTPTracing) Shutdown(ctx context.Context) error { return t.tp.Shutdown(ctx) }

// HTTPSpan is the span of one request, from [HTTPTracing.Start]. The zero
// HTTPSpan records and injects nothing, so callers need not check whether
// tracing is on.
type HTTPSpan struct {
	span   trace.Span
	prop   propagation.TextMapPropagator
	method string
}

// Inject writes the span's trace context into h as traceparent (and
// tracestate), replacing the caller's, so that the next hop continues the
// trace as a child of this span.
func (s HTTPSpan) Inject(h http.Header) {
	if s.span == nil {
		return
	}
	s.prop.Inject(trace.ContextWithSpan(context.Background(), s.span), propagation.HeaderCarrier(h))
}

// TraceID returns the span's trace id in hex, or "" for the zero span.
func (s HTTPSpan) TraceID() string {
	if s.span == nil {
		return ""
	}
	return s.span.SpanContext().TraceID().String()
}

// SpanEnd is how a request ended, for [HTTPSpan.End].
type SpanEnd struct {
	// Route is the route that took the request; empty when none did. The
	// span is named "METHOD route".
	Route string
	// Upstream and Target are where the request was forwarded; empty when
	// it was not.
	Upstream, Target string
	// Status is the response's status code; 0 when no whole response was
	// sent.
	Status int
	// Reason is why the proxy answered itself; empty when the upstream
	// answered.
	Reason string
}

// End records how the request ended and ends the span: the route in the
// name and in http.route, the upstream, target and reason as levee.*
// attributes, the status as http.response.status_code, and an error status
// for a 5xx or an answer cut off.
func (s HTTPSpan) End(e SpanEnd) {
	if s.span == nil {
		return
	}
	if s.span.IsRecording() {
		attrs := make([]attribute.KeyValue, 0, 5)
		if e.Route != "" {
			s.span.SetName(s.method + " " + e.Route)
			attrs = append(attrs, attribute.String("http.route", e.Route))
		}
		if e.Upstream != "" {
			attrs = append(attrs, attribute.String("levee.upstream", e.Upstream))
		}
		if e.Target != "" {
			attrs = append(attrs, attribute.String("server.address", e.Target))
		}
		if e.Reason != "" {
			attrs = append(attrs, attribute.String("levee.reason", e.Reason))
		}
		if e.Status != 0 {
			attrs = append(attrs, attribute.Int("http.response.status_code", e.Status))
		}
		s.span.SetAttributes(attrs...)
		switch {
		case e.Status == 0:
			s.span.SetStatus(codes.Error, "no whole response was sent")
		case e.Status >= 500:
			s.span.SetStatus(codes.Error, http.StatusText(e.Status))
		}
	}
	s.span.End()
}
