package reload_test

import (
	"context"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/gateway/reload"
)

// stepUntil advances clk by step until cond holds, letting the self-check
// goroutine run between steps; at most 200 steps.
func stepUntil(t *testing.T, clk *clocktest.Fake, step time.Duration, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		clk.Advance(step)
		for range 50 { // the goroutine woken reads the figures and takes the lock
			if cond() {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	t.Fatalf("condition not met after 200 steps of %v", step)
}

// TestSelfCheckFakeClock drives the self-check on a fake clock: a version
// answering 5xx fails it as soon as min_events requests are in, and is
// rolled back; a healthy one passes when the period ends, no earlier; a
// version replaced while watched has its check cancelled.
func TestSelfCheckFakeClock(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	good, broken := upstream(t, 200, "ok"), upstream(t, 502, "broken")
	check := "\nreload: {self_check: {period: 10m, min_events: 10}}\n"
	docGood, docBroken := doc([]string{good.URL}, check), doc([]string{broken.URL}, check)
	opts := reload.Options{Clock: clk}
	opts.Proxy.Clock = clk
	c, url := start(t, docGood, opts)
	ctx := context.Background()

	if _, err := c.Apply(ctx, []byte(docBroken), reload.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if code, _ := get(t, url); code != 502 {
			t.Fatalf("the broken version answered %d, want its upstream's 502", code)
		}
	}
	start := clk.Now()
	stepUntil(t, clk, time.Second, func() bool { return c.Current().Hash == reload.Hash([]byte(docGood)) })
	if took := clk.Now().Sub(start); took > 2*time.Second {
		t.Fatalf("rolled back after %v on the clock, want within a tick (1s) of min_events", took)
	}
	st := c.Status()
	if st.SelfCheck.State != "failed" || st.SelfCheck.Version != 2 || st.SelfCheck.Result.Pass || st.Current.Version != 3 {
		t.Fatalf("Status() = %+v, want version 2's check failed and version 3 running", st)
	}

	// A healthy version passes, once the period is over.
	healthy := doc([]string{good.URL}, check+"x-n: 1\n")
	if _, err := c.Apply(ctx, []byte(healthy), reload.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		get(t, url)
	}
	start = clk.Now()
	stepUntil(t, clk, time.Minute, func() bool { return c.Status().SelfCheck.State != "running" })
	st = c.Status()
	if st.SelfCheck.State != "passed" || !st.SelfCheck.Result.Done || clk.Now().Sub(start) < 10*time.Minute || st.Current.Version != 4 {
		t.Fatalf("Status() = %+v after %v, want version 4 passed after its 10m", st, clk.Now().Sub(start))
	}

	// A newer apply cancels the check of the version it replaces.
	if _, err := c.Apply(ctx, []byte(docBroken), reload.ApplyOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, []byte(docGood), reload.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		get(t, url)
	}
	stepUntil(t, clk, time.Minute, func() bool { return c.Status().SelfCheck.State != "running" })
	if st := c.Status(); st.SelfCheck.Version != 6 || st.SelfCheck.State != "passed" || st.Current.Version != 6 {
		t.Fatalf("Status() = %+v, want version 6 watched and passed, 5's check dropped", st)
	}
}
