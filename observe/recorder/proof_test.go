package recorder_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/observe/recorder"
	"github.com/levee-go/levee/shed"
	"github.com/levee-go/levee/slo"
	exptrace "golang.org/x/exp/trace"
)

// goroutineID reads the calling goroutine's id from its stack header
// ("goroutine 7 [running]:"), to find it in the execution trace.
func goroutineID(t *testing.T) int64 {
	t.Helper()
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	if len(f) < 2 {
		t.Fatalf("unexpected stack header %q", buf)
	}
	id, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// traceProof parses a snapshot's trace with golang.org/x/exp/trace and
// returns the goroutine that logged the snapshot's id, and how many events
// the trace holds.
func traceProof(t *testing.T, dir, id string) (logger int64, events int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, id, recorder.FileTrace))
	if err != nil {
		t.Fatal(err)
	}
	rd, err := exptrace.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the snapshot's trace does not parse: %v", err)
	}
	logger = -1
	for {
		ev, err := rd.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading the trace after %d events: %v", events, err)
		}
		events++
		if ev.Kind() == exptrace.EventLog {
			if l := ev.Log(); l.Category == "levee.snapshot" && l.Message == id {
				logger = int64(ev.Goroutine())
			}
		}
	}
	return logger, events
}

func readManifest(t *testing.T, dir, id string) recorder.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, id, recorder.FileManifest))
	if err != nil {
		t.Fatal(err)
	}
	var m recorder.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// A real breaker trip and a real panic in a pipeline each write a snapshot
// whose manifest names the event and whose execution trace parses and
// shows the goroutine that triggered it.
func TestProofBreakerTripAndPanic(t *testing.T) {
	r, clk, got := newRecorder(t, recorder.Config{Interval: time.Second})
	me := goroutineID(t)

	b, err := breaker.New(breaker.Config{Name: "db", Clock: clocktest.New(time.Time{}), ConsecutiveFailures: 3})
	if err != nil {
		t.Fatal(err)
	}
	b.OnEvent(r.Listener())
	errDown := errors.New("db down")
	for range 3 {
		p, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		p.Done(errDown)
	}
	if b.State() != breaker.Open {
		t.Fatalf("breaker state %v, want open", b.State())
	}
	trip := <-got
	m := readManifest(t, r.Dir(), trip.ID)
	if m.ID != trip.ID || m.Kind != "state_change" || m.Policy != "breaker" || m.Name != "db" || m.From != "closed" ||
		m.To != "open" || m.Reason != breaker.ReasonConsecutiveFailures || m.Value != 3 || m.Threshold != 3 ||
		m.Error != "db down" {
		t.Errorf("trip manifest = %+v", m)
	}
	if g, n := traceProof(t, r.Dir(), trip.ID); g != me {
		t.Errorf("trace of %d events: snapshot logged by goroutine %d, want the tripping goroutine %d", n, g, me)
	}

	clk.Advance(time.Second)
	p, err := levee.NewPipeline(levee.Config{Name: "checkout", ReturnPanics: true})
	if err != nil {
		t.Fatal(err)
	}
	p.OnEvent(r.Listener())
	err = p.Run(context.Background(), func(context.Context) error { panic("kaboom") })
	if pe := (*levee.PanicError)(nil); !errors.As(err, &pe) {
		t.Fatalf("Run = %v, want a *PanicError", err)
	}
	pan := <-got
	m = readManifest(t, r.Dir(), pan.ID)
	if m.Kind != "panic" || m.Policy != "pipeline" || m.Name != "checkout" || !strings.Contains(m.Error, "kaboom") ||
		!strings.Contains(m.Error, "proof_test.go") {
		t.Errorf("panic manifest = %+v, want the panic value and its stack", m)
	}
	if g, n := traceProof(t, r.Dir(), pan.ID); g != me {
		t.Errorf("trace of %d events: snapshot logged by goroutine %d, want the panicking goroutine %d", n, g, me)
	}
	gr, err := os.ReadFile(filepath.Join(r.Dir(), pan.ID, recorder.FileGoroutines))
	if err != nil || !bytes.Contains(gr, []byte("TestProofBreakerTripAndPanic")) {
		t.Errorf("goroutine dump (err %v) does not show the test goroutine", err)
	}
}

// A real SLO whose error budget burns fast fires its "page" alert, and
// the default trigger takes a snapshot of it.
func TestProofSLOFastBurn(t *testing.T) {
	r, _, got := newRecorder(t, recorder.Config{})
	s, err := slo.New(slo.Config{Name: "checkout", Objective: 0.999, Clock: clocktest.New(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	s.OnEvent(r.Listener())
	for range 200 {
		s.Record(levee.Outcome{Result: levee.Failure})
	}
	s.Evaluate()
	m := <-got
	if m.Policy != "slo" || m.Name != "checkout" || m.To != slo.StateFiring || m.Reason != "page" || m.Value <= m.Threshold {
		t.Errorf("manifest = %+v, want the page alert firing with its burn rate over the factor", m)
	}
	if g, _ := traceProof(t, r.Dir(), m.ID); g != goroutineID(t) {
		t.Errorf("snapshot logged by goroutine %d, want the evaluating goroutine %d", g, goroutineID(t))
	}
}

// A real shedder overloaded past its estimate raises its shed level, and
// the default trigger takes a snapshot of it (the recipe of the shed
// package's own tests: train the estimate to 2 calls in flight, then
// exceed it).
func TestProofShedderEngages(t *testing.T) {
	r, _, got := newRecorder(t, recorder.Config{})
	clk := clocktest.New(time.Time{})
	s, err := shed.New(shed.Config{Name: "api", Window: time.Second, Buckets: 10, Gain: 1, Clock: clk, CoolOff: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.OnEvent(r.Listener())
	ctx := context.Background()
	complete := func(n int, rt time.Duration) {
		for range n {
			p, err := s.AcquireCriticality(ctx, levee.CriticalPlus)
			if err != nil {
				t.Fatalf("Acquire while training = %v", err)
			}
			p.Record(levee.Outcome{Result: levee.Success, Latency: rt})
		}
	}
	complete(10, 20*time.Millisecond)
	clk.Advance(100 * time.Millisecond)
	complete(20, 10*time.Millisecond)
	clk.Advance(100 * time.Millisecond)
	for range 3 {
		if _, err := s.AcquireCriticality(ctx, levee.Critical); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = s.AcquireCriticality(ctx, levee.Sheddable)
	if _, err := s.AcquireCriticality(ctx, levee.Critical); err != nil {
		t.Fatal(err)
	}
	m := <-got
	if m.Policy != "shed" || m.Name != "api" || m.Kind != "state_change" || m.Value <= m.Threshold ||
		m.To != levee.SheddablePlus.String() {
		t.Errorf("manifest = %+v, want the shed level rising to %v", m, levee.SheddablePlus)
	}
	if s := r.Stats(); s.Snapshots != 1 {
		t.Errorf("Stats = %+v, want one snapshot", s)
	}
}
