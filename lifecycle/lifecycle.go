package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudflare/tableflip"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/health"
)

// Stage is where a [Lifecycle] is in its life.
type Stage int32

// The stages, in the order a Lifecycle walks them.
const (
	// Starting: Run has not started the servers yet.
	Starting Stage = iota
	// Running: serving; readiness as the checks say.
	Running
	// Draining: readiness is false and every response carries
	// "Connection: close" (a GOAWAY on HTTP/2), but the servers still
	// accept and serve, for Config.DrainDelay. After an upgrade readiness
	// stays true and the window is Config.Upgrade.DrainDelay.
	Draining
	// Stopping: servers shut down gracefully (listeners closed, in-flight
	// requests finish) and workers' contexts are cancelled, for at most
	// Config.ShutdownTimeout; then whatever is left is closed.
	Stopping
	// Flushing: flush hooks run one after another, for at most
	// Config.FlushTimeout together.
	Flushing
	// Stopped: Run is returning.
	Stopped
)

// String returns the stage's name in lower case.
func (s Stage) String() string {
	switch s {
	case Starting:
		return "starting"
	case Running:
		return "running"
	case Draining:
		return "draining"
	case Stopping:
		return "stopping"
	case Flushing:
		return "flushing"
	case Stopped:
		return "stopped"
	}
	return "unknown"
}

// ErrCutOff is matched by the error [Lifecycle.Run] returns when a stage ran
// out of time or was forced, and something was cut off: a server closed with
// requests in flight, a worker abandoned, a flush hook interrupted or
// skipped.
var ErrCutOff = errors.New("lifecycle: cut off")

// ErrNotNew is returned by the methods of a [Lifecycle] that was not made by
// [New], such as the zero value, which has no configuration to run with.
var ErrNotNew = errors.New("lifecycle: Lifecycle not made by New")

// ErrUpgradesDisabled is returned by [Lifecycle.Upgrade] when
// Config.Upgrade.Enabled is false.
var ErrUpgradesDisabled = errors.New("lifecycle: upgrades are not enabled")

// Lifecycle owns a process's servers, workers and flush hooks, and walks
// them through Running → Draining → Stopping → Flushing → Stopped when a
// shutdown signal arrives, within a budget that fits Kubernetes'
// terminationGracePeriodSeconds. With upgrades enabled it also hands its
// listening sockets to a new copy of the binary on SIGHUP or SIGUSR2 and
// drains only once that copy is ready.
//
// Build one with [New], add listeners ([Lifecycle.Listen]), servers,
// workers and hooks, then call [Lifecycle.Run], which blocks until the
// process should exit. A Lifecycle not made by New (the zero value) has no
// budget to run with: Run, Add, Go and OnFlush return [ErrNotNew], Stop does
// nothing, and Listen, Stage, Middleware and OnEvent work as documented.
type Lifecycle struct {
	cfg Config
	b   budget
	clk clock.Clock
	log *slog.Logger
	upg *tableflip.Upgrader

	mu      sync.Mutex
	started bool
	servers []Server
	workers []worker
	hooks   []hook
	reason  string

	stage  atomic.Int32
	stops  atomic.Int32
	stopC  chan struct{} // closed by the first stop request
	forceC chan struct{} // closed by the second
	events levee.Listeners
}

type worker struct {
	name string
	fn   func(ctx context.Context) error
}

type hook struct {
	name    string
	timeout time.Duration
	fn      func(ctx context.Context) error
}

// New validates cfg and returns a Lifecycle, or an error naming the field at
// fault. With upgrades enabled it sets up the upgrader, which picks up the
// sockets of a parent process if this one was started by an upgrade.
func New(cfg Config) (*Lifecycle, error) {
	b, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	l := &Lifecycle{
		cfg:    cfg,
		b:      b,
		clk:    clock.Or(cfg.Clock),
		log:    cfg.Logger,
		stopC:  make(chan struct{}),
		forceC: make(chan struct{}),
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	if cfg.Name != "" {
		l.log = l.log.With("name", cfg.Name)
	}
	if cfg.Upgrade.Enabled {
		l.upg, err = tableflip.New(tableflip.Options{UpgradeTimeout: cfg.Upgrade.Timeout, PIDFile: cfg.Upgrade.PIDFile})
		if err != nil {
			return nil, fmt.Errorf("lifecycle: Config.Upgrade.Enabled: %w", err)
		}
	}
	return l, nil
}

// Run is New(cfg), Add for each server, then [Lifecycle.Run]. It cannot be
// used with upgrades, whose listeners must come from [Lifecycle.Listen].
func Run(ctx context.Context, cfg Config, servers ...Server) error {
	if cfg.Upgrade.Enabled {
		return errors.New("lifecycle: Run with Config.Upgrade.Enabled: listeners must come from Lifecycle.Listen; use New")
	}
	l, err := New(cfg)
	if err != nil {
		return err
	}
	for _, s := range servers {
		if err := l.Add(s); err != nil {
			return err
		}
	}
	return l.Run(ctx)
}

// Listen announces on the local network address like [net.Listen]. With
// upgrades enabled, a listener inherited from the parent process for the
// same network and address is returned instead, and the new listener is
// recorded so that a future upgrade passes it on.
func (l *Lifecycle) Listen(network, addr string) (net.Listener, error) {
	if l.upg != nil {
		return l.upg.Listen(network, addr)
	}
	return net.Listen(network, addr)
}

// HasParent reports whether this process was started by an upgrade and
// inherited its listeners.
func (l *Lifecycle) HasParent() bool { return l.upg != nil && l.upg.HasParent() }

// Add registers a server. Run starts it and stops it in the Stopping
// stage. Servers that implement fmt.Stringer are named by it in logs.
func (l *Lifecycle) Add(s Server) error {
	if s == nil {
		return errors.New("lifecycle: Add(nil)")
	}
	if v, ok := s.(interface{ valid() error }); ok {
		if err := v.valid(); err != nil {
			return err
		}
	}
	if !l.made() {
		return ErrNotNew
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started {
		return errors.New("lifecycle: Add after Run")
	}
	l.servers = append(l.servers, s)
	return nil
}

// Go registers a worker: fn runs from the start of Run, and its context is
// cancelled when the Stopping stage begins (after the drain delay, so a
// consumer keeps consuming while the process still serves). It must return
// by Config.ShutdownTimeout or it is abandoned. A worker that returns an
// error before the shutdown starts one.
func (l *Lifecycle) Go(name string, fn func(ctx context.Context) error) error {
	if fn == nil {
		return fmt.Errorf("lifecycle: worker %q: nil func", name)
	}
	if !l.made() {
		return ErrNotNew
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started {
		return errors.New("lifecycle: Go after Run")
	}
	l.workers = append(l.workers, worker{name, fn})
	return nil
}

// OnFlush registers a hook for the Flushing stage: flush buffers, commit
// offsets, close pools. Hooks run one at a time in the order added, after
// every server and worker has stopped. Each gets a context that ends after
// its timeout (zero means whatever is left of Config.FlushTimeout) or when
// the stage's budget runs out; a hook still running then is abandoned.
func (l *Lifecycle) OnFlush(name string, timeout time.Duration, fn func(ctx context.Context) error) error {
	if fn == nil {
		return fmt.Errorf("lifecycle: flush hook %q: nil func", name)
	}
	if !l.made() {
		return ErrNotNew
	}
	if timeout < 0 || timeout > l.b.flush {
		return fmt.Errorf("lifecycle: flush hook %q: timeout %v, want 0 to Config.FlushTimeout (%v)", name, timeout, l.b.flush)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started {
		return errors.New("lifecycle: OnFlush after Run")
	}
	l.hooks = append(l.hooks, hook{name, timeout, fn})
	return nil
}

// Stage returns the current stage.
func (l *Lifecycle) Stage() Stage { return Stage(l.stage.Load()) }

// Name returns Config.Name, the Name of this Lifecycle's events.
func (l *Lifecycle) Name() string { return l.cfg.Name }

// OnEvent registers fn for this Lifecycle's events: an
// [levee.EventStateChange] with Policy "lifecycle" at each stage change
// (From and To are stage names, Reason why the shutdown began), and
// [levee.EventInfo] for upgrades (Reason "upgrade started", "upgrade
// failed" with Err, "ready").
func (l *Lifecycle) OnEvent(fn levee.Listener) (remove func()) { return l.events.Add(fn) }

// Stop asks Run to shut down gracefully, as the first signal does; a second
// Stop forces the shutdown, as a second signal does. It does not wait. On a
// Lifecycle not made by [New], which cannot run, it does nothing.
func (l *Lifecycle) Stop() { l.stop("stop requested") }

// made reports whether l was made by [New].
func (l *Lifecycle) made() bool { return l.stopC != nil }

func (l *Lifecycle) stop(reason string) {
	if !l.made() {
		return
	}
	switch l.stops.Add(1) {
	case 1:
		l.mu.Lock()
		l.reason = reason
		l.mu.Unlock()
		close(l.stopC)
	case 2:
		l.log.Warn("lifecycle: forced stop", "reason", reason)
		close(l.forceC)
	}
}

// Upgrade starts the upgrade a signal would start and waits for it: it
// returns nil once the new process is ready (Run then drains this one), or
// the reason it failed, in which case this process goes on serving.
func (l *Lifecycle) Upgrade() error {
	if l.upg == nil {
		return ErrUpgradesDisabled
	}
	l.info("upgrade started", nil)
	l.log.Info("lifecycle: upgrade started")
	t0 := l.clk.Now()
	if err := l.upg.Upgrade(); err != nil {
		l.log.Error("lifecycle: upgrade failed; this process keeps serving", "err", err,
			"duration", l.clk.Now().Sub(t0))
		l.info("upgrade failed", err)
		return err
	}
	l.log.Info("lifecycle: upgrade: new process ready; draining this one", "duration", l.clk.Now().Sub(t0))
	return nil
}

// Middleware ends keep-alive connections once draining has begun, for
// servers that are not added with the [HTTP] adapter (which does the same
// itself): it adds "Connection: close" to every response, so net/http
// closes an HTTP/1 connection after the response and sends a graceful
// GOAWAY on an HTTP/2 connection (in-flight streams finish, the client opens
// a new connection for its next request, and the server closes the old one
// when idle). Idle connections are not touched: the client learns of the
// close from a response, never by a connection closed under a request it
// is sending.
func (l *Lifecycle) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.Stage() >= Draining {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// Run starts every server and worker, then waits for a stop: a signal from
// Config.Signals, ctx ending, [Lifecycle.Stop], a server or worker failing,
// or (with upgrades) a new process taking over. It then walks the shutdown
// stages and returns when they are done: nil after a clean shutdown, else
// the failure that started it joined with what was cut off ([ErrCutOff])
// and the hooks' errors. Run may be called once.
func (l *Lifecycle) Run(ctx context.Context) error {
	r, err := l.newRun()
	if err != nil {
		return err
	}
	defer r.cancelWork()
	defer r.watchSignals()()
	r.start(ctx)
	defer r.watchUpgrades()()
	r.awaitStop(ctx)
	r.drain()
	r.stopServers()
	r.flush()
	l.begin(Stopped, r.reason)
	return r.result()
}

// awaitReady waits until readiness passes; it returns false if a stop came
// first.
func (l *Lifecycle) awaitReady(ctx context.Context) bool {
	h := l.cfg.Health
	if h == nil {
		return true
	}
	l.log.Info("lifecycle: waiting for readiness before serving inherited listeners")
	for !h.Check(ctx, health.Readiness).OK() {
		t := l.clk.NewTimer(100 * time.Millisecond)
		select {
		case <-t.C():
		case <-l.stopC:
			t.Stop()
			return false
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
	return true
}

// signalReady tells a parent process (and the PID file) that this one is
// ready, once its own readiness passes.
func (l *Lifecycle) signalReady(ctx context.Context) {
	if h := l.cfg.Health; h != nil {
		for !h.Check(ctx, health.Readiness).OK() {
			if !clock.Sleep(l.clk, 100*time.Millisecond, ctx.Done()) {
				return
			}
		}
	}
	if err := l.upg.Ready(); err != nil {
		l.log.Error("lifecycle: signalling readiness", "err", err)
		return
	}
	l.log.Info("lifecycle: ready", "inherited", l.upg.HasParent(), "pid", os.Getpid())
	l.info("ready", nil)
}

func (l *Lifecycle) runHook(hk hook, d time.Duration) (err error, finished bool) {
	ctx, cancel := l.deadline(d)
	defer cancel()
	res := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				res <- fmt.Errorf("panic: %v", v)
			}
		}()
		res <- hk.fn(ctx)
	}()
	select {
	case err := <-res:
		// A hook that gives up because its time ran out was cut off too.
		return err, err == nil || ctx.Err() == nil
	case <-ctx.Done():
		return nil, false
	}
}

// deadline returns a context that ends after d on the clock, with
// [context.DeadlineExceeded], or at once when the shutdown is forced.
func (l *Lifecycle) deadline(d time.Duration) (context.Context, context.CancelFunc) {
	c := &clockCtx{Context: context.Background(), deadline: l.clk.Now().Add(d), done: make(chan struct{})}
	t := l.clk.AfterFunc(d, func() { c.cancel(context.DeadlineExceeded) })
	go func() {
		select {
		case <-l.forceC:
			c.cancel(errForced)
		case <-c.done:
		}
	}()
	return c, func() { t.Stop(); c.cancel(context.Canceled) }
}

var errForced = fmt.Errorf("lifecycle: forced stop: %w", context.Canceled)

// clockCtx is a context whose deadline runs on a [clock.Clock], so that
// tests drive shutdown budgets with a fake clock.
type clockCtx struct {
	context.Context
	deadline time.Time
	done     chan struct{}
	mu       sync.Mutex
	err      error
}

func (c *clockCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *clockCtx) Done() <-chan struct{}       { return c.done }

func (c *clockCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *clockCtx) cancel(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.done)
	}
}

// wait sleeps d on the clock; it returns false if the shutdown was forced
// first.
func (l *Lifecycle) wait(d time.Duration) bool {
	return clock.Sleep(l.clk, d, l.forceC)
}

func (l *Lifecycle) forced() bool {
	select {
	case <-l.forceC:
		return true
	default:
		return false
	}
}

// begin enters stage s and returns the function that logs its end.
func (l *Lifecycle) begin(s Stage, reason string) func(...slog.Attr) {
	from := l.setStage(s, reason)
	l.log.Info("lifecycle: stage started", "stage", s.String(), "from", from.String(), "reason", reason)
	t0 := l.clk.Nanotime()
	return func(attrs ...slog.Attr) {
		args := []any{"stage", s.String(), "duration", time.Duration(l.clk.Nanotime() - t0)}
		for _, a := range attrs {
			args = append(args, a)
		}
		if len(attrs) > 0 {
			l.log.Warn("lifecycle: stage ended with work cut off", args...)
			return
		}
		l.log.Info("lifecycle: stage ended", args...)
	}
}

func (l *Lifecycle) setStage(s Stage, reason string) (from Stage) {
	from = Stage(l.stage.Swap(int32(s)))
	if l.events.Active() {
		l.events.Emit(levee.Event{Kind: levee.EventStateChange, Policy: "lifecycle", Name: l.cfg.Name,
			Time: l.clk.Now(), From: from.String(), To: s.String(), Reason: reason})
	}
	return from
}

func (l *Lifecycle) info(reason string, err error) {
	if l.events.Active() {
		l.events.Emit(levee.Event{Kind: levee.EventInfo, Policy: "lifecycle", Name: l.cfg.Name,
			Time: l.clk.Now(), Reason: reason, Err: err})
	}
}

// waitOr waits for done or stop; it reports whether done was closed.
func waitOr(done, stop <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
	}
	select {
	case <-done:
		return true
	case <-stop:
		return false
	}
}

func nameOf(s Server, i int) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("server#%d", i)
}
