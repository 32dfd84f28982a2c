package recorder_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/observe/recorder"
)

// The Go runtime allows one flight recorder per process, so these tests
// run one after the other, each closing its Recorder.

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newRecorder builds a Recorder on a fake clock whose snapshots are sent
// on the returned channel, and closes it when the test ends.
func newRecorder(t *testing.T, cfg recorder.Config) (*recorder.Recorder, *clocktest.Fake, chan recorder.Manifest) {
	t.Helper()
	clk := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.Clock = clk
	cfg.Logger = quiet
	got := make(chan recorder.Manifest, 100)
	if cfg.OnSnapshot == nil {
		cfg.OnSnapshot = func(m recorder.Manifest) { got <- m }
	}
	r, err := recorder.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r, clk, got
}

var trip = levee.Event{Kind: levee.EventStateChange, Policy: "breaker", Name: "db", From: "closed", To: "open",
	Reason: "failure_rate", Value: 75, Threshold: 50}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := recorder.New(recorder.Config{}); !errors.Is(err, recorder.ErrNoDir) {
		t.Errorf("New without Dir: err = %v, want ErrNoDir", err)
	}
	for _, cfg := range []recorder.Config{
		{Dir: t.TempDir(), Window: -1}, {Dir: t.TempDir(), Interval: -1}, {Dir: t.TempDir(), MaxDirBytes: -1},
		{Dir: t.TempDir(), MaxSnapshots: -1}, {Dir: t.TempDir(), QueueSize: -1},
	} {
		if r, err := recorder.New(cfg); err == nil {
			_ = r.Close()
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
}

func TestOneFlightRecorderPerProcess(t *testing.T) {
	newRecorder(t, recorder.Config{})
	if r, err := recorder.New(recorder.Config{Dir: t.TempDir()}); err == nil {
		_ = r.Close()
		t.Fatal("a second Recorder started while the first runs; want an error")
	}
}

func TestDefaultTrigger(t *testing.T) {
	for _, c := range []struct {
		name string
		e    levee.Event
		want bool
	}{
		{"panic", levee.Event{Kind: levee.EventPanic, Policy: "pipeline"}, true},
		{"breaker opens", trip, true},
		{"breaker half-opens", levee.Event{Kind: levee.EventStateChange, Policy: "breaker", From: "open", To: "half_open"}, false},
		{"breaker rejects", levee.Event{Kind: levee.EventRejected, Policy: "breaker", From: "open"}, false},
		{"slo page fires", levee.Event{Kind: levee.EventStateChange, Policy: "slo", From: "ok", To: "firing", Reason: "page"}, true},
		{"slo ticket fires", levee.Event{Kind: levee.EventStateChange, Policy: "slo", From: "ok", To: "firing", Reason: "ticket"}, false},
		{"slo page resolves", levee.Event{Kind: levee.EventStateChange, Policy: "slo", From: "firing", To: "ok", Reason: "page"}, false},
		{"shed level rises", levee.Event{Kind: levee.EventStateChange, Policy: "shed", Value: 1, Threshold: 0}, true},
		{"shed level falls", levee.Event{Kind: levee.EventStateChange, Policy: "shed", Value: 0, Threshold: 1}, false},
		{"redis falls back", levee.Event{Kind: levee.EventStateChange, Policy: "redislimit", From: "redis", To: "local_share"}, true},
		{"redis recovers", levee.Event{Kind: levee.EventStateChange, Policy: "redislimit", From: "local_share", To: "redis"}, false},
		{"retry", levee.Event{Kind: levee.EventRetry, Policy: "retry"}, false},
	} {
		if got := recorder.DefaultTrigger(c.e); got != c.want {
			t.Errorf("%s: DefaultTrigger = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSnapshotFilesAndManifest(t *testing.T) {
	r, _, got := newRecorder(t, recorder.Config{})
	r.Listener()(levee.Event{Kind: levee.EventRetry, Policy: "retry"}) // not a trigger
	r.Listener()(trip)
	m := <-got
	if r.LastID() != m.ID {
		t.Errorf("LastID = %q, want %q", r.LastID(), m.ID)
	}
	dir := filepath.Join(r.Dir(), m.ID)
	for _, f := range []string{recorder.FileTrace, recorder.FileGoroutines, recorder.FileHeap, recorder.FileManifest} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: stat = %v, %v; want a non-empty file", f, st, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, recorder.FileManifest))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk recorder.Manifest
	if err := json.Unmarshal(b, &onDisk); err != nil {
		t.Fatal(err)
	}
	if onDisk.ID != m.ID || onDisk.Kind != "state_change" || onDisk.Policy != "breaker" || onDisk.Name != "db" ||
		onDisk.To != "open" || onDisk.Reason != "failure_rate" || onDisk.Value != 75 || onDisk.Threshold != 50 ||
		!onDisk.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || len(onDisk.Files) != 4 {
		t.Errorf("manifest = %+v", onDisk)
	}
	if s := r.Stats(); s.Snapshots != 1 || s.RateLimited != 0 || s.Dropped != 0 || s.Failed != 0 {
		t.Errorf("Stats = %+v, want one snapshot", s)
	}
}

// A storm of 1000 trips from many goroutines writes one snapshot per
// Interval; the rest are counted as rate limited.
func TestStormIsRateLimited(t *testing.T) {
	r, clk, got := newRecorder(t, recorder.Config{Interval: time.Minute})
	storm := func() {
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				for range 100 {
					r.Listener()(trip)
				}
			})
		}
		wg.Wait()
	}
	storm()
	<-got
	clk.Advance(59 * time.Second)
	storm()
	clk.Advance(time.Second)
	storm()
	<-got
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if s := r.Stats(); s.Snapshots != 2 || s.RateLimited != 2998 || s.Dropped != 0 {
		t.Errorf("after 3000 trips over one minute: Stats = %+v, want 2 snapshots and 2998 rate limited", s)
	}
	if l, _ := r.List(); len(l) != 2 {
		t.Errorf("List has %d snapshots, want 2", len(l))
	}
}

// The listener never waits for the writer: with the writer busy and the
// queue full, a trigger is dropped and counted.
func TestFullQueueDrops(t *testing.T) {
	hold := make(chan struct{})
	written := make(chan string, 10)
	r, clk, _ := newRecorder(t, recorder.Config{QueueSize: 1, Interval: time.Second, OnSnapshot: func(m recorder.Manifest) {
		written <- m.ID
		<-hold
	}})
	r.Listener()(trip)
	<-written // the writer is now held
	clk.Advance(time.Second)
	r.Listener()(trip) // queued
	clk.Advance(time.Second)
	r.Listener()(trip) // queue full: dropped
	if s := r.Stats(); s.Dropped != 1 {
		t.Errorf("Stats = %+v, want 1 dropped", s)
	}
	close(hold)
	<-written
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if s := r.Stats(); s.Snapshots != 2 || s.Dropped != 1 {
		t.Errorf("Stats = %+v, want 2 snapshots and 1 dropped", s)
	}
}

// The directory keeps at most MaxSnapshots, and within MaxDirBytes, the
// oldest removed first.
func TestDirectoryCaps(t *testing.T) {
	t.Run("count", func(t *testing.T) {
		r, clk, got := newRecorder(t, recorder.Config{MaxSnapshots: 2, Interval: time.Second})
		var ids []string
		for range 4 {
			r.Listener()(trip)
			ids = append(ids, (<-got).ID)
			clk.Advance(time.Second)
		}
		_ = r.Close()
		l, err := r.List()
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 2 || l[0].ID != ids[3] || l[1].ID != ids[2] {
			t.Errorf("List = %v, want the newest two of %v, newest first", l, ids)
		}
		if s := r.Stats(); s.Removed != 2 {
			t.Errorf("Stats = %+v, want 2 removed", s)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		// One byte: every older snapshot goes, the newest stays.
		r, clk, got := newRecorder(t, recorder.Config{MaxDirBytes: 1, Interval: time.Second})
		var last string
		for range 3 {
			r.Listener()(trip)
			last = (<-got).ID
			clk.Advance(time.Second)
		}
		_ = r.Close()
		l, _ := r.List()
		if len(l) != 1 || l[0].ID != last {
			t.Errorf("List = %v, want only the newest %s", l, last)
		}
	})
}

func TestCloseStopsTriggers(t *testing.T) {
	r, clk, _ := newRecorder(t, recorder.Config{})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	clk.Advance(time.Hour)
	r.Listener()(trip)
	if s := r.Stats(); s != (recorder.Stats{}) {
		t.Errorf("Stats after Close = %+v, want zero", s)
	}
	// The flight recorder is free again.
	r2, err := recorder.New(recorder.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("New after Close: %v", err)
	}
	_ = r2.Close()
}
