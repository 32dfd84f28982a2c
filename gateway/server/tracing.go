package server

import (
	"context"
	"time"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/observe"
)

// tracingFlush bounds sending the spans still buffered at shutdown.
const tracingFlush = 5 * time.Second

// startTracing builds the OTLP span exporter of the tracing section; nil
// when the section is omitted.
func startTracing(ctx context.Context, t *config.Tracing) (*observe.HTTPTracing, error) {
	if t == nil {
		return nil, nil
	}
	return observe.NewHTTPTracing(ctx, observe.TracingOptions{
		Endpoint:    t.Endpoint,
		Protocol:    string(t.Protocol),
		Insecure:    t.Insecure,
		SampleRatio: t.SampleRatio.Fraction(),
		ServiceName: t.ServiceName,
	})
}

// stopTracing sends the spans still buffered, within tracingFlush.
func stopTracing(tr *observe.HTTPTracing) {
	if tr == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), tracingFlush)
	defer cancel()
	_ = tr.Shutdown(ctx)
}
