package cli

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

// TestDemoTimeline plays the whole timeline at a quarter of its pace
// (7.5s) and checks each phase's effect from the demo's own figures: the
// recommendations breaker opens during the incident and the fallback
// answers for it, a probe closes it once the upstream is healed, and the
// flood on /orders is held by the adaptive limit, with SHEDDABLE
// requests refused far more than CRITICAL ones.
func TestDemoTimeline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 7.5s")
	}
	tl := newDemoTimeline(0.25)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	stats, err := runDemo(ctx, func() {}, tl, true, &out, io.Discard)
	t.Logf("the demo's output:\n%s", out.String())
	if err != nil {
		t.Fatalf("runDemo: %v", err)
	}
	if len(stats) != len(tl.phases) {
		t.Fatalf("%d phases ran, want %d", len(stats), len(tl.phases))
	}
	by := map[demoPhaseKind]demoPhaseStats{}
	for i, s := range stats {
		if s.kind != tl.phases[i].kind {
			t.Fatalf("phase %d is %s, want %s", i, s.kind, tl.phases[i].kind)
		}
		if s.counts[cFailed] != 0 {
			t.Errorf("%s: %d requests got no answer, want 0", s.kind, s.counts[cFailed])
		}
		if s.counts[cOK] == 0 {
			t.Errorf("%s: no request answered 2xx", s.kind)
		}
		by[s.kind] = s
	}

	steady := by[phaseSteady]
	if steady.opened != 0 || steady.counts[cFallback] != 0 || steady.counts.refused() != 0 {
		t.Errorf("steady: breaker opened %d times, fallback %d, refused %d; want none",
			steady.opened, steady.counts[cFallback], steady.counts.refused())
	}

	inc := by[phaseIncident]
	if inc.opened == 0 || inc.refusals == 0 {
		t.Errorf("incident: the breaker opened %d times and refused %d requests; want both > 0", inc.opened, inc.refusals)
	}
	if inc.counts[cFallback] == 0 || inc.counts[cUpstream5xx] != 0 {
		t.Errorf("incident: fallback answered %d, upstream 5xx reached clients %d; want > 0 and 0",
			inc.counts[cFallback], inc.counts[cUpstream5xx])
	}

	rec := by[phaseRecovery]
	if rec.closed == 0 || rec.gauges.state != "closed" || rec.last[cFallback] != 0 {
		t.Errorf("recovery: the breaker closed %d times and ends %s, last tick's fallbacks %d; want > 0, closed, 0",
			rec.closed, rec.gauges.state, rec.last[cFallback])
	}

	fl := by[phaseFlood].counts
	shedShare := float64(fl[cSheddableRefused]) / float64(max(fl[cSheddableSent], 1))
	critShare := float64(fl[cCriticalRefused]) / float64(max(fl[cCriticalSent], 1))
	critOK := float64(fl[cCriticalOK]) / float64(max(fl[cCriticalSent], 1))
	if fl[cShed] == 0 || shedShare < 0.5 || critShare > shedShare/4 {
		t.Errorf("flood: shed %d; SHEDDABLE refused %.0f%%, CRITICAL %.0f%%; want shedding, SHEDDABLE ≥ 50%% and ≥ 4× CRITICAL",
			fl[cShed], 100*shedShare, 100*critShare)
	}
	if critOK < 0.8 {
		t.Errorf("flood: %.0f%% of CRITICAL requests answered 2xx, want ≥ 80%% (goodput held)", 100*critOK)
	}
	if by[phaseFlood].gauges.limit == 0 {
		t.Errorf("flood: the adaptive limit never changed (no levee_limit for orders)")
	}
	if bad := by[phaseBadConfig]; !bad.rolledBack {
		t.Errorf("bad config: not rolled back by the self-check (%s)", bad.reload)
	} else if bad.counts[cUpstream5xx] == 0 {
		t.Errorf("bad config: rolled back, but no request met the failing catalog_v2 first")
	}
	if calm := by[phaseCalm]; calm.last.refused() != 0 {
		t.Errorf("calm: the last tick still refused %d requests", calm.last.refused())
	}
}
