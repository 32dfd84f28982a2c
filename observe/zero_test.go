package observe_test

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/observe"
)

// TestZeroValues checks that the zero values of the exported types record
// nothing, or return an error, and never panic.
func TestZeroValues(t *testing.T) {
	ctx := context.Background()
	events := allEvents(ctx)
	tests := []struct {
		name string
		call func() error
	}{
		{"Metrics.Listener", func() error {
			var m observe.Metrics
			for _, e := range events {
				m.Listener()(e)
			}
			return nil
		}},
		{"Metrics.Requests", func() error {
			var m observe.Metrics
			p, err := m.Requests("api", nil).Acquire(ctx)
			p.Done(nil)
			return err
		}},
		{"Metrics.SLO", func() error {
			var m observe.Metrics
			p, err := m.SLO("api", nil, nil).Acquire(ctx)
			p.Done(nil)
			return err
		}},
		{"Metrics.Register", func() error {
			var m observe.Metrics
			b, err := breaker.New(breaker.Config{Name: "db"})
			if err != nil {
				return err
			}
			m.Register(b)()
			return nil
		}},
		{"Metrics.Watch", func() error {
			var m observe.Metrics
			if err := m.Watch("retry", "db", "tokens", func() float64 { return 1 }); err == nil {
				return errors.New("Watch on a zero Metrics: nil error")
			}
			return nil
		}},
		{"RequestsGate", func() error {
			var g observe.RequestsGate
			p, err := g.Acquire(ctx)
			p.Record(levee.Outcome{Result: levee.Failure})
			return err
		}},
		{"OTel.Listener", func() error {
			var o observe.OTel
			for _, e := range events {
				o.Listener()(e)
			}
			return nil
		}},
		{"SLOCollector", func() error {
			reg := prometheus.NewRegistry()
			if err := reg.Register(&observe.SLOCollector{}); err != nil {
				return err
			}
			_, err := reg.Gather()
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Error(err)
			}
		})
	}
}
