package health_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/health"
)

// TestZeroHealth checks that a Health not made by New works as
// New(Config{}) would make it, without panicking.
func TestZeroHealth(t *testing.T) {
	tests := []struct {
		name string
		call func(h *health.Health) error
	}{
		{"Check with no checks", func(h *health.Health) error {
			if r := h.Check(context.Background(), health.Readiness); !r.OK() {
				return errors.New(string(r.Status))
			}
			return nil
		}},
		{"Add and Check", func(h *health.Health) error {
			if err := h.Add(health.Check{Name: "db", Func: func(context.Context) error { return errors.New("down") }}); err != nil {
				return err
			}
			if r := h.Check(context.Background(), health.Readiness); r.OK() {
				return errors.New("a failing check passed")
			}
			r, ok := h.CheckOne(context.Background(), health.Readiness, "db")
			if !ok || r.Status != health.StatusFailed {
				return errors.New("CheckOne: " + string(r.Status))
			}
			return nil
		}},
		{"interval check, then Close twice", func(h *health.Health) error {
			if err := h.Add(health.Check{Name: "bg", Interval: time.Hour, Func: func(context.Context) error { return nil }}); err != nil {
				return err
			}
			h.Close()
			return h.Close()
		}},
		{"Close", func(h *health.Health) error { return h.Close() }},
		{"Drain with a listener", func(h *health.Health) error {
			var got []levee.Event
			h.OnEvent(func(e levee.Event) { got = append(got, e) })
			h.Drain()
			if !h.Draining() || len(got) != 1 {
				return errors.New("drain not reported")
			}
			if h.Check(context.Background(), health.Readiness).OK() {
				return errors.New("ready while draining")
			}
			return nil
		}},
		{"Handler", func(h *health.Health) error {
			rec := httptest.NewRecorder()
			h.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/livez", nil))
			if rec.Code != http.StatusOK {
				return errors.New(rec.Result().Status)
			}
			return nil
		}},
		{"Register", func(h *health.Health) error {
			h.Register(http.NewServeMux())
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h health.Health
			if err := tt.call(&h); err != nil {
				t.Error(err)
			}
		})
	}
}
