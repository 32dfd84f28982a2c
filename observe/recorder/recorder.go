package recorder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	oteltrace "go.opentelemetry.io/otel/trace"
)

// The files of a snapshot directory.
const (
	// FileTrace is the execution trace of the last [Config.Window]; `go
	// tool trace` opens it as is.
	FileTrace = "trace.out"
	// FileGoroutines is a goroutine dump with full stacks (pprof
	// "goroutine", debug=2).
	FileGoroutines = "goroutines.txt"
	// FileHeap is a heap profile (pprof "heap", proto format).
	FileHeap = "heap.pprof"
	// FileManifest is the [Manifest] as JSON.
	FileManifest = "manifest.json"
)

// Config configures a [Recorder]. Only Dir is required.
type Config struct {
	// Dir is the directory snapshots are written to, one subdirectory
	// each, named by the snapshot's id. It is created if missing.
	Dir string
	// Window is how much recent execution the trace of a snapshot covers
	// at least (the flight recorder's MinAge). Zero means 10s.
	Window time.Duration
	// MaxTraceBytes bounds the memory the flight recorder keeps, and so
	// the size of a snapshot's trace; it wins over Window when the two
	// disagree. Zero means 16 MiB.
	MaxTraceBytes uint64
	// Interval is the shortest time between two snapshots: a trigger that
	// comes sooner is counted in [Stats.RateLimited] and dropped, so a
	// storm of trips writes one snapshot. Zero means one minute.
	Interval time.Duration
	// MaxDirBytes caps the total size of Dir's snapshots: after each
	// write, the oldest are removed until the rest fit (the newest is
	// always kept). Zero means 256 MiB.
	MaxDirBytes int64
	// MaxSnapshots caps how many snapshots Dir keeps, the oldest removed
	// first. Zero means 20.
	MaxSnapshots int
	// Trigger decides which events take a snapshot. Nil means
	// [DefaultTrigger]. It runs on the goroutine that emitted the event and
	// must be cheap.
	Trigger func(levee.Event) bool
	// NoHeap leaves the heap profile out of snapshots.
	NoHeap bool
	// QueueSize is how many accepted triggers may wait for the writer; a
	// trigger that finds the queue full is dropped and counted in
	// [Stats.Dropped]. Zero means 4.
	QueueSize int
	// Logger receives one line per snapshot written or failed. Nil means
	// slog.Default().
	Logger *slog.Logger
	// OnSnapshot, if set, is called from the writer goroutine with the
	// manifest of each snapshot written, so metrics or traces can point to
	// its id.
	OnSnapshot func(Manifest)
	// Clock paces the rate limit and stamps snapshots. Nil means the real
	// clock.
	Clock clock.Clock
}

// Manifest describes a snapshot: the event that triggered it and the files
// it holds. It is stored as [FileManifest] in the snapshot's directory.
type Manifest struct {
	// ID names the snapshot and its directory; ids sort by time.
	ID string `json:"id"`
	// Time is when the trigger was accepted.
	Time time.Time `json:"time"`
	// Kind, Policy, Name, From, To, Reason, Value, Threshold and Wait are
	// the triggering [levee.Event]'s fields.
	Kind      string  `json:"kind"`
	Policy    string  `json:"policy"`
	Name      string  `json:"name,omitempty"`
	From      string  `json:"from,omitempty"`
	To        string  `json:"to,omitempty"`
	Reason    string  `json:"reason,omitempty"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	// WaitSeconds is the event's Wait, in seconds.
	WaitSeconds float64 `json:"wait_seconds,omitempty"`
	// Error is the event's Err as text (for a panic, the value and stack).
	Error string `json:"error,omitempty"`
	// EventTime is the event's Time, on the policy's clock.
	EventTime time.Time `json:"event_time"`
	// TraceID is the OpenTelemetry trace id of the triggering call, when
	// its context carried a span.
	TraceID string `json:"trace_id,omitempty"`
	// WindowSeconds is the configured trace window.
	WindowSeconds float64 `json:"window_seconds"`
	// Files are the files written, by name.
	Files []string `json:"files"`
	// GoVersion is the runtime that wrote the snapshot.
	GoVersion string `json:"go_version"`
}

// Stats counts what a [Recorder] did with its triggers.
type Stats struct {
	// Snapshots is the number written.
	Snapshots uint64
	// RateLimited is the number of triggers refused because the last
	// accepted one was less than Interval ago.
	RateLimited uint64
	// Dropped is the number refused because the writer's queue was full.
	Dropped uint64
	// Failed is the number of snapshots that could not be written.
	Failed uint64
	// Removed is the number of old snapshots removed to honour the caps.
	Removed uint64
}

// Recorder keeps Go's execution-trace flight recorder running and writes a
// snapshot when a chosen event arrives. Build it with [New], attach
// [Recorder.Listener] to policies, and [Recorder.Close] it on shutdown.
type Recorder struct {
	cfg     Config
	clk     clock.Clock
	fr      *trace.FlightRecorder
	trigger func(levee.Event) bool
	queue   chan Manifest
	done    chan struct{}

	// next is the Nanotime from which a trigger is accepted again; a
	// trigger wins the slot with a compare-and-swap, so concurrent ones
	// never both pass.
	next   atomic.Int64
	seq    atomic.Uint64
	closed atomic.Bool
	// mu guards the queue against Close: an accepted trigger sends under
	// the read lock, Close closes the queue under the write lock.
	mu sync.RWMutex

	lastID                                        atomic.Pointer[string]
	snapshots, rateLimited, dropped, failed, gone atomic.Uint64
}

// ErrNoDir is returned by [New] when Config.Dir is empty.
var ErrNoDir = errors.New("recorder: Config.Dir is required")

// New checks cfg, creates its directory, starts the flight recorder and the
// writer goroutine. At most one flight recorder may run in a process (a
// limit of the Go runtime): a second New fails until the first is closed.
func New(cfg Config) (*Recorder, error) {
	if cfg.Dir == "" {
		return nil, ErrNoDir
	}
	for _, f := range []struct {
		name string
		bad  bool
	}{
		{"Window", cfg.Window < 0}, {"Interval", cfg.Interval < 0}, {"MaxDirBytes", cfg.MaxDirBytes < 0},
		{"MaxSnapshots", cfg.MaxSnapshots < 0}, {"QueueSize", cfg.QueueSize < 0},
	} {
		if f.bad {
			return nil, fmt.Errorf("recorder: Config.%s must not be negative", f.name)
		}
	}
	if cfg.Window == 0 {
		cfg.Window = 10 * time.Second
	}
	if cfg.MaxTraceBytes == 0 {
		cfg.MaxTraceBytes = 16 << 20
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Minute
	}
	if cfg.MaxDirBytes == 0 {
		cfg.MaxDirBytes = 256 << 20
	}
	if cfg.MaxSnapshots == 0 {
		cfg.MaxSnapshots = 20
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = 4
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	r := &Recorder{
		cfg:     cfg,
		clk:     clock.Or(cfg.Clock),
		trigger: cfg.Trigger,
		queue:   make(chan Manifest, cfg.QueueSize),
		done:    make(chan struct{}),
	}
	if r.trigger == nil {
		r.trigger = DefaultTrigger
	}
	r.next.Store(r.clk.Nanotime())
	r.fr = trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: cfg.Window, MaxBytes: cfg.MaxTraceBytes})
	if err := r.fr.Start(); err != nil {
		return nil, fmt.Errorf("recorder: starting the flight recorder: %w", err)
	}
	go r.run()
	return r, nil
}

// DefaultTrigger selects the events that mean trouble worth the evidence:
// a panic; a breaker opening (To "open", not forced); an SLO alert of
// severity "page" starting to fire (the fast burn); a load shedder raising
// its shed level; and a Redis rate limiter switching to its fallback.
func DefaultTrigger(e levee.Event) bool {
	switch e.Kind {
	case levee.EventPanic:
		return true
	case levee.EventStateChange:
		switch e.Policy {
		case "breaker":
			return e.To == "open"
		case "slo":
			return e.To == "firing" && e.Reason == "page"
		case "shed":
			// Value is the new shed level and Threshold the old one.
			return e.Value > e.Threshold
		case "redislimit":
			return e.From == "redis" && e.To != "redis"
		}
	}
	return false
}

// Listener returns the listener to attach to policies (breaker's OnEvent,
// a pipeline's, an SLO's). It never blocks: an event the trigger rejects
// costs a function call; an accepted one is rate limited with one atomic
// compare-and-swap and queued for the writer goroutine, or dropped and
// counted when the queue is full. It also logs the snapshot's id into the
// execution trace on the triggering goroutine (a runtime/trace log with
// category "levee.snapshot"), so the trace itself shows which goroutine
// caused it.
func (r *Recorder) Listener() levee.Listener { return r.observe }

func (r *Recorder) observe(e levee.Event) {
	if r.closed.Load() || !r.trigger(e) {
		return
	}
	now := r.clk.Nanotime()
	next := r.next.Load()
	if now < next || !r.next.CompareAndSwap(next, now+int64(r.cfg.Interval)) {
		r.rateLimited.Add(1)
		return
	}
	m := r.manifest(e)
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	trace.Log(ctx, "levee.snapshot", m.ID)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed.Load() {
		return
	}
	select {
	case r.queue <- m:
	default:
		r.dropped.Add(1)
	}
}

func (r *Recorder) manifest(e levee.Event) Manifest {
	t := r.clk.Now().UTC()
	m := Manifest{
		ID:     fmt.Sprintf("%s-%06d", t.Format("20060102T150405.000Z"), r.seq.Add(1)),
		Time:   t,
		Kind:   e.Kind.String(),
		Policy: e.Policy, Name: e.Name, From: e.From, To: e.To, Reason: e.Reason,
		Value: e.Value, Threshold: e.Threshold, WaitSeconds: e.Wait.Seconds(),
		EventTime: e.Time, WindowSeconds: r.cfg.Window.Seconds(), GoVersion: runtime.Version(),
	}
	if e.Err != nil {
		m.Error = e.Err.Error()
		var pe *levee.PanicError
		if errors.As(e.Err, &pe) && len(pe.Stack) > 0 {
			m.Error += "\n" + string(pe.Stack)
		}
	}
	if e.Context != nil {
		if sc := oteltrace.SpanContextFromContext(e.Context); sc.HasTraceID() {
			m.TraceID = sc.TraceID().String()
		}
	}
	return m
}

func (r *Recorder) run() {
	defer close(r.done)
	for m := range r.queue {
		if err := r.write(&m); err != nil {
			r.failed.Add(1)
			r.logger().Error("levee: snapshot failed", slog.String("snapshot", m.ID), slog.String("error", err.Error()))
			continue
		}
		r.snapshots.Add(1)
		id := m.ID
		r.lastID.Store(&id)
		r.logger().Warn("levee: snapshot written", slog.String("snapshot", m.ID), slog.String("kind", m.Kind),
			slog.String("policy", m.Policy), slog.String("name", m.Name), slog.String("reason", m.Reason),
			slog.String("dir", filepath.Join(r.cfg.Dir, m.ID)))
		if r.cfg.OnSnapshot != nil {
			r.cfg.OnSnapshot(m)
		}
		r.prune(m.ID)
	}
}

func (r *Recorder) logger() *slog.Logger {
	if r.cfg.Logger != nil {
		return r.cfg.Logger
	}
	return slog.Default()
}

// write writes the snapshot into a temporary directory and renames it into
// place, so a listing never sees half a snapshot.
func (r *Recorder) write(m *Manifest) (err error) {
	final := filepath.Join(r.cfg.Dir, m.ID)
	tmp := final + tmpSuffix
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := writeFile(filepath.Join(tmp, FileTrace), func(f *os.File) error {
		_, err := r.fr.WriteTo(f)
		return err
	}); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	m.Files = append(m.Files, FileTrace)
	if err := writeFile(filepath.Join(tmp, FileGoroutines), func(f *os.File) error {
		return pprof.Lookup("goroutine").WriteTo(f, 2)
	}); err != nil {
		return fmt.Errorf("goroutines: %w", err)
	}
	m.Files = append(m.Files, FileGoroutines)
	if !r.cfg.NoHeap {
		if err := writeFile(filepath.Join(tmp, FileHeap), func(f *os.File) error {
			return pprof.Lookup("heap").WriteTo(f, 0)
		}); err != nil {
			return fmt.Errorf("heap: %w", err)
		}
		m.Files = append(m.Files, FileHeap)
	}
	m.Files = append(m.Files, FileManifest)
	if err := writeFile(filepath.Join(tmp, FileManifest), func(f *os.File) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return os.Rename(tmp, final)
}

const tmpSuffix = ".tmp"

func writeFile(name string, fill func(*os.File) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// LastID returns the id of the last snapshot written, or "" if none.
func (r *Recorder) LastID() string {
	if p := r.lastID.Load(); p != nil {
		return *p
	}
	return ""
}

// Stats returns the counts so far.
func (r *Recorder) Stats() Stats {
	return Stats{Snapshots: r.snapshots.Load(), RateLimited: r.rateLimited.Load(), Dropped: r.dropped.Load(),
		Failed: r.failed.Load(), Removed: r.gone.Load()}
}

// Dir returns the directory snapshots are written to.
func (r *Recorder) Dir() string { return r.cfg.Dir }

// Close stops accepting triggers, waits for queued snapshots to be written
// and stops the flight recorder. It is safe to call more than once.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if r.closed.Swap(true) {
		r.mu.Unlock()
		return nil
	}
	close(r.queue)
	r.mu.Unlock()
	<-r.done
	r.fr.Stop()
	return nil
}
