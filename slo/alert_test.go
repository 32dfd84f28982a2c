package slo_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/slo"
)

// eventLog collects an SLO's events as "minute reason from->to" lines.
type eventLog struct {
	mu     sync.Mutex
	lines  []string
	minute *int
}

func (l *eventLog) listen(e levee.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Kind != levee.EventStateChange || e.Policy != "slo" {
		l.lines = append(l.lines, "unexpected "+e.Kind.String())
		return
	}
	l.lines = append(l.lines, fmt.Sprintf("%d %s %s->%s", *l.minute, e.Reason, e.From, e.To))
}

func (l *eventLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// TestAlertStartStop drives a synthetic burst of known size through the
// default table. Traffic is 1,000 events a minute. A burst of 3% errors
// burns at 30×: the one-hour window holds k burst minutes out of 60, so it
// burns at k/2× and crosses 14.4× at minute 29. When the burst stops, the
// five-minute window holds 5 − j burst minutes after j clean ones, burning
// at 6(5 − j)×, which falls under 14.4× at j = 3.
func TestAlertStartStop(t *testing.T) {
	s, clk := newSLO(t, slo.Config{Name: "checkout"})
	minute := 0
	log := &eventLog{minute: &minute}
	s.OnEvent(log.listen)
	step := func(g, b int) []slo.AlertStatus {
		minute++
		clk.Advance(time.Minute)
		record(s, g, b)
		return s.Evaluate()
	}
	for range 360 { // six clean hours, so the long windows are full
		step(1000, 0)
	}
	if f := s.Firing(); len(f) != 0 {
		t.Fatalf("Firing() after clean traffic = %v, want none", f)
	}
	base := minute
	var pageAt int
	for k := 1; k <= 40; k++ {
		st := step(970, 30)
		if st[0].Firing && pageAt == 0 {
			pageAt = k
			if !near(st[0].BurnRate, 14.5, 1e-9) || st[0].Factor != 14.4 || st[0].Pressure != 1 {
				t.Errorf("Evaluate()[page] at burst minute %d = %+v, want BurnRate 14.5, Factor 14.4, Pressure 1", k, st[0])
			}
		}
		if k == 28 && !near(st[0].Pressure, 14.0/14.4, 1e-9) {
			t.Errorf("Evaluate()[page].Pressure at burst minute 28 = %v, want %v", st[0].Pressure, 14.0/14.4)
		}
	}
	if pageAt != 29 {
		t.Fatalf("page started at burst minute %d, want 29", pageAt)
	}
	if !s.Alerting("ticket") {
		t.Errorf("Alerting(ticket) after the burst = false, want true (2h window burns at 10×)")
	}
	end := minute
	var stopAt int
	for j := 1; j <= 10; j++ {
		st := step(1000, 0)
		if !st[0].Firing && stopAt == 0 {
			stopAt = j
		}
	}
	if stopAt != 3 {
		t.Fatalf("page stopped %d clean minutes after the burst, want 3", stopAt)
	}
	want := []string{
		fmt.Sprintf("%d page ok->firing", base+29),
		fmt.Sprintf("%d page firing->ok", end+3),
	}
	var got []string
	for _, l := range log.get() {
		if strings.Contains(l, "page") {
			got = append(got, l)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("page events = %q, want %q", got, want)
	}
	if slices.Contains(s.Firing(), "page") || s.Alerting("page") {
		t.Fatalf("Firing() = %v after the burst ended, want no page", s.Firing())
	}
}

func TestLowTrafficSuppression(t *testing.T) {
	tests := []struct {
		name      string
		minEvents int64
		good, bad int
		fire      bool
		supp      bool
	}{
		{"one failure at night does not page", 0, 0, 1, false, true},
		{"99 events are not enough", 0, 49, 50, false, true},
		{"100 events are", 0, 50, 50, true, false},
		{"no minimum pages on one failure", -1, 0, 1, true, false},
		{"custom minimum", 5, 2, 3, true, false},
		{"healthy low traffic", 0, 10, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newSLO(t, slo.Config{MinEvents: tt.minEvents})
			record(s, tt.good, tt.bad)
			st := s.Evaluate()
			if st[0].Severity != "page" || st[0].Firing != tt.fire || st[0].Suppressed != tt.supp {
				t.Fatalf("Evaluate()[0] = %+v, want page Firing %v Suppressed %v", st[0], tt.fire, tt.supp)
			}
			if tt.supp && st[0].Pressure != 0 {
				t.Fatalf("Evaluate()[0].Pressure = %v while suppressed, want 0", st[0].Pressure)
			}
		})
	}
}

func TestCustomAlertsAndNone(t *testing.T) {
	s, _ := newSLO(t, slo.Config{
		Objective: 0.99, Window: 24 * time.Hour, MinEvents: -1,
		Alerts: []slo.Alert{{Severity: "fast_burn", Long: 10 * time.Minute, Short: time.Minute, Factor: 2}},
	})
	record(s, 97, 3) // 3% errors against 1% allowed: burn 3
	st := s.Evaluate()
	if len(st) != 1 || !st[0].Firing || st[0].Severity != "fast_burn" || !near(st[0].BurnRate, 3, 1e-9) {
		t.Fatalf("Evaluate() = %+v, want fast_burn firing at 3×", st)
	}
	if got := s.Pressure("fast_burn"); got != 1 {
		t.Errorf("Pressure(fast_burn) = %v, want 1", got)
	}
	if got := s.Pressure("nope"); got != 0 {
		t.Errorf("Pressure(nope) = %v, want 0", got)
	}
	if s.Alerting("nope") {
		t.Errorf("Alerting(nope) = true, want false")
	}
	none, _ := newSLO(t, slo.Config{Alerts: []slo.Alert{}})
	record(none, 0, 1000)
	if st := none.Evaluate(); st != nil {
		t.Errorf("Evaluate() without alerts = %+v, want nil", st)
	}
}

func TestScheduledEvaluation(t *testing.T) {
	s, clk := newSLO(t, slo.Config{MinEvents: -1, EvalInterval: 10 * time.Second})
	var mu sync.Mutex
	var events []levee.Event
	s.OnEvent(func(e levee.Event) { mu.Lock(); events = append(events, e); mu.Unlock() })
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(events) }

	s.Start()
	s.Start()                           // no second schedule
	if got := clk.Pending(); got != 2 { // the evaluation and the bucket boundary
		t.Fatalf("Pending() after Start twice = %d, want 2", got)
	}
	record(s, 0, 10)
	clk.Advance(9 * time.Second)
	if got := count(); got != 0 {
		t.Fatalf("events before the first tick = %d, want 0", got)
	}
	clk.Advance(time.Second)
	if got := count(); got != 2 { // page and ticket start
		t.Fatalf("events after the first tick = %d, want 2", got)
	}
	mu.Lock()
	e := events[0]
	mu.Unlock()
	if e.Kind != levee.EventStateChange || e.Policy != "slo" || e.Name != "slo" || e.Reason != "page" ||
		e.From != slo.StateOK || e.To != slo.StateFiring || e.Threshold != 14.4 || !near(e.Value, 1000, 1e-9) ||
		!e.Time.Equal(clk.Now()) {
		t.Fatalf("first event = %+v, want page ok->firing at 1000×, threshold 14.4, now", e)
	}
	clk.Advance(10 * time.Minute) // the 30-minute window still burns
	if got := count(); got != 2 || !s.Alerting("page") {
		t.Fatalf("events after 10 minutes = %d (page %v), want 2 and page firing", got, s.Alerting("page"))
	}
	clk.Advance(21 * time.Minute) // both short windows empty: page stops
	if got := count(); got != 3 || s.Alerting("page") {
		t.Fatalf("events after 31 minutes = %d (page %v), want 3 and page stopped", got, s.Alerting("page"))
	}
	s.Stop()
	if got := clk.Pending(); got != 0 {
		t.Fatalf("Pending() after Stop = %d, want 0", got)
	}
	record(s, 0, 10)
	clk.Advance(time.Hour)
	if got := count(); got != 3 {
		t.Fatalf("events after Stop = %d, want still 3", got)
	}
	s.Start() // restartable
	record(s, 0, 10)
	clk.Advance(10 * time.Second)
	if got := count(); got != 4 {
		t.Fatalf("events after restart = %d, want 4", got)
	}
	s.Stop()
}
