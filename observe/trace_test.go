package observe_test

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/levee-go/levee/observe"
)

// collector is an OTLP/HTTP trace receiver on loopback.
type collector struct {
	spans chan *tracepb.ResourceSpans
}

// ServeHTTP takes an ExportTraceServiceRequest (field 1: repeated
// ResourceSpans), decoded here field by field.
func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		body = body[n:]
		m, n := protowire.ConsumeBytes(body)
		var rs tracepb.ResourceSpans
		if n < 0 || proto.Unmarshal(m, &rs) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		body = body[n:]
		c.spans <- &rs
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
}

// startCollector serves a collector and returns its address.
func startCollector(t *testing.T) (*collector, string) {
	t.Helper()
	c := &collector{spans: make(chan *tracepb.ResourceSpans, 16)}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, strings.TrimPrefix(srv.URL, "http://")
}

func attr(span *tracepb.Span, key string) string {
	for _, a := range span.Attributes {
		if a.Key == key {
			if s := a.Value.GetStringValue(); s != "" {
				return s
			}
			return strings.TrimSpace(strings.TrimPrefix(a.Value.String(), "int_value:"))
		}
	}
	return ""
}

// TestHTTPTracing continues a caller's sampled trace, passes it on in
// traceparent, and exports the span with the route, upstream, reason and
// status to a real OTLP/HTTP collector; a new trace at
// sample ratio 0 is passed on unsampled and not exported.
func TestHTTPTracing(t *testing.T) {
	for _, protocol := range []string{"http", ""} {
		t.Run("protocol="+protocol, func(t *testing.T) {
			col, addr := startCollector(t)
			tr, err := observe.NewHTTPTracing(context.Background(), observe.TracingOptions{
				Endpoint: addr, Protocol: protocol, Insecure: true, SampleRatio: 0, ServiceName: "edge",
			})
			if err != nil {
				t.Fatal(err)
			}
			const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
			in := httptest.NewRequest("GET", "/orders/1", nil)
			in.Header.Set("Traceparent", "00-"+traceID+"-"+parentID+"-01")
			r, span := tr.Start(in)
			if r.Context() == in.Context() {
				t.Error("Start returned a request without the span's context")
			}
			out := http.Header{"Traceparent": {"00-" + traceID + "-" + parentID + "-01"}}
			span.Inject(out)
			tp := strings.Split(out.Get("Traceparent"), "-")
			if len(tp) != 4 || tp[1] != traceID || tp[2] == parentID || tp[3] != "01" {
				t.Errorf("traceparent sent on = %q, want trace %s, a new span id, sampled", out.Get("Traceparent"), traceID)
			}
			if span.TraceID() != traceID {
				t.Errorf("TraceID() = %q, want %q", span.TraceID(), traceID)
			}
			span.End(observe.SpanEnd{Route: "orders", Upstream: "app", Target: "10.0.0.1:80", Status: 503, Reason: "breaker_open"})

			_, fresh := tr.Start(httptest.NewRequest("GET", "/", nil)) // ratio 0: not sampled
			h := http.Header{}
			fresh.Inject(h)
			if tp := h.Get("Traceparent"); !strings.HasSuffix(tp, "-00") || strings.Contains(tp, traceID) {
				t.Errorf("traceparent of an unsampled new trace = %q, want a new trace id, flags 00", tp)
			}
			fresh.End(observe.SpanEnd{Status: 200})
			var zero observe.HTTPSpan
			zero.Inject(h)
			zero.End(observe.SpanEnd{})

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tr.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			var got []*tracepb.Span
			var service string
			for len(col.spans) > 0 {
				rs := <-col.spans
				for _, a := range rs.Resource.Attributes {
					if a.Key == "service.name" {
						service = a.Value.GetStringValue()
					}
				}
				for _, ss := range rs.ScopeSpans {
					got = append(got, ss.Spans...)
				}
			}
			if len(got) != 1 {
				t.Fatalf("collector got %d spans, want 1 (the sampled one)", len(got))
			}
			s := got[0]
			if hex.EncodeToString(s.TraceId) != traceID || hex.EncodeToString(s.ParentSpanId) != parentID || hex.EncodeToString(s.SpanId) != tp[2] {
				t.Errorf("span trace %x parent %x id %x, want %s %s %s", s.TraceId, s.ParentSpanId, s.SpanId, traceID, parentID, tp[2])
			}
			if s.Name != "GET orders" || s.Kind != tracepb.Span_SPAN_KIND_SERVER || s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
				t.Errorf("span %q kind %v status %v, want GET orders, server, error", s.Name, s.Kind, s.Status.GetCode())
			}
			for k, want := range map[string]string{"http.route": "orders", "levee.upstream": "app", "server.address": "10.0.0.1:80",
				"levee.reason": "breaker_open", "http.response.status_code": "503", "url.path": "/orders/1"} {
				if got := attr(s, k); got != want {
					t.Errorf("span attribute %s = %q, want %q", k, got, want)
				}
			}
			if service != "edge" {
				t.Errorf("service.name = %q, want edge", service)
			}
		})
	}
}

func TestHTTPTracingOptions(t *testing.T) {
	for _, o := range []observe.TracingOptions{
		{},
		{Endpoint: "127.0.0.1:4318", Protocol: "grpc"},
		{Endpoint: "127.0.0.1:4317", SampleRatio: 1.5},
	} {
		if _, err := observe.NewHTTPTracing(context.Background(), o); err == nil {
			t.Errorf("NewHTTPTracing(%+v) = nil error, want one", o)
		}
	}
}

// TestHTTPTracingEvents checks that span events added through the
// request's context (as policies' listeners add them) reach the collector
// with every attribute type intact.
func TestHTTPTracingEvents(t *testing.T) {
	col, addr := startCollector(t)
	tr, err := observe.NewHTTPTracing(context.Background(), observe.TracingOptions{Endpoint: addr, Insecure: true, SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, span := tr.Start(httptest.NewRequest("POST", "/pay", nil))
	trace.SpanFromContext(r.Context()).AddEvent("retry", trace.WithAttributes(
		attribute.Bool("b", true), attribute.Int("i", 7), attribute.Float64("f", 0.5), attribute.String("s", "x"),
		attribute.StringSlice("ss", []string{"a", "b"}), attribute.Int64Slice("is", []int64{1, 2}),
		attribute.BoolSlice("bs", []bool{true}), attribute.Float64Slice("fs", []float64{1.5}),
	))
	span.End(observe.SpanEnd{Status: 0})
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rs := <-col.spans
	s := rs.ScopeSpans[0].Spans[0]
	if s.Name != "POST" || s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || len(s.ParentSpanId) != 0 {
		t.Errorf("span %q status %v parent %x, want POST, error (no whole answer), a root", s.Name, s.Status.GetCode(), s.ParentSpanId)
	}
	if len(s.Events) != 1 || s.Events[0].Name != "retry" {
		t.Fatalf("events = %v, want one retry", s.Events)
	}
	got := map[string]string{}
	for _, a := range s.Events[0].Attributes {
		got[a.Key] = a.Value.String()
	}
	for k, want := range map[string]string{"b": "bool_value:true", "i": "int_value:7", "f": "double_value:0.5", "s": `string_value:"x"`,
		"ss": `array_value:{values:{string_value:"a"} values:{string_value:"b"}}`, "is": `array_value:{values:{int_value:1} values:{int_value:2}}`,
		"bs": `array_value:{values:{bool_value:true}}`, "fs": `array_value:{values:{double_value:1.5}}`} {
		if g := strings.Join(strings.Fields(got[k]), " "); g != want {
			t.Errorf("event attribute %s = %s, want %s", k, g, want)
		}
	}
}
