package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"
)

// run is one call of [Lifecycle.Run]: what it started, and what its
// shutdown has found. Each stage is one method, called in order by Run.
type run struct {
	l       *Lifecycle
	servers []Server
	workers []worker
	hooks   []hook

	served, worked []chan struct{} // closed when each server, worker returns
	workCtx        context.Context
	cancelWork     context.CancelFunc

	failMu  sync.Mutex
	failure error // the first failure before the shutdown; it started it

	cancelReady context.CancelFunc // stops telling a parent process when ready
	upgraded    atomic.Bool        // the shutdown was started by a new process taking over
	reason      string             // why the shutdown began
	cut         []error            // what the shutdown cut off
}

// newRun marks l started and takes what was registered.
func (l *Lifecycle) newRun() (*run, error) {
	if !l.made() {
		return nil, ErrNotNew
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started {
		return nil, errors.New("lifecycle: Run called twice")
	}
	l.started = true
	r := &run{l: l, servers: l.servers, workers: l.workers, hooks: l.hooks, cancelReady: func() {}}
	r.workCtx, r.cancelWork = context.WithCancel(context.Background())
	return r, nil
}

// watchSignals turns stop signals into stops until the returned function
// is called.
func (r *run) watchSignals() (unwatch func()) {
	sigs := r.l.cfg.stopSignals()
	if len(sigs) == 0 {
		return func() {}
	}
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, sigs...)
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				r.l.stop("signal " + s.String())
			case <-quit:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(quit) }
}

// fail records a server's or worker's failure and starts the shutdown.
// Failures after the shutdown began are expected and ignored.
func (r *run) fail(err error) {
	if r.l.Stage() > Running {
		return
	}
	r.failMu.Lock()
	if r.failure == nil {
		r.failure = err
	}
	r.failMu.Unlock()
	r.l.stop("failure: " + err.Error())
}

// start serves every server and runs every worker. A process started by
// an upgrade shares its listening sockets with its parent: it must not
// accept connections before it is healthy, or a child killed for failing
// to get ready would reset them; if a stop comes first, nothing starts.
func (r *run) start(ctx context.Context) {
	l := r.l
	ok := !l.HasParent() || l.awaitReady(ctx)
	r.served = make([]chan struct{}, len(r.servers))
	for i, s := range r.servers {
		r.served[i] = make(chan struct{})
		if !ok {
			close(r.served[i])
			continue
		}
		go func() {
			defer close(r.served[i])
			if err := s.Serve(); err != nil {
				r.fail(fmt.Errorf("lifecycle: server %s: %w", nameOf(s, i), err))
			}
		}()
	}
	r.worked = make([]chan struct{}, len(r.workers))
	for i, w := range r.workers {
		r.worked[i] = make(chan struct{})
		if !ok {
			close(r.worked[i])
			continue
		}
		go func() {
			defer close(r.worked[i])
			err := w.fn(r.workCtx)
			switch {
			case err != nil && r.workCtx.Err() == nil:
				r.fail(fmt.Errorf("lifecycle: worker %s: %w", w.name, err))
			case r.workCtx.Err() == nil:
				l.log.Info("lifecycle: worker finished", "worker", w.name)
			}
		}()
	}
	if ok {
		l.setStage(Running, "started")
		l.log.Info("lifecycle: running", "servers", len(r.servers), "workers", len(r.workers),
			"hooks", len(r.hooks), "upgrades", l.upg != nil, "inherited", l.HasParent())
	}
}

// watchUpgrades, with upgrades enabled, tells a parent process when this
// one is ready, upgrades on the upgrade signals, and stops this process
// when a new one has taken over; until the returned function is called.
func (r *run) watchUpgrades() (unwatch func()) {
	l := r.l
	if l.upg == nil {
		return func() {}
	}
	readyCtx, cancelReady := context.WithCancel(context.Background())
	r.cancelReady = cancelReady
	go l.signalReady(readyCtx)
	upSig := make(chan os.Signal, 1)
	signal.Notify(upSig, l.cfg.Upgrade.signals()...)
	go func() {
		for {
			select {
			case <-upSig:
				l.Upgrade()
			case <-l.upg.Exit():
				if l.stops.Load() == 0 {
					r.upgraded.Store(true)
					l.stop("upgraded")
				}
				return
			case <-l.stopC:
				return
			}
		}
	}()
	return func() { signal.Stop(upSig); cancelReady() }
}

// awaitStop waits for the first stop request, or for ctx to end.
func (r *run) awaitStop(ctx context.Context) {
	l := r.l
	select {
	case <-l.stopC:
	case <-ctx.Done():
		l.stop("context: " + context.Cause(ctx).Error())
	}
	r.cancelReady()
	l.mu.Lock()
	r.reason = l.reason
	l.mu.Unlock()
	if l.upg != nil && !r.upgraded.Load() {
		// Interrupts an upgrade in progress (its child is killed) and
		// refuses new ones.
		l.upg.Stop()
	}
}

// drain is the Draining stage: readiness fails first (before anyone hears
// of the new stage), keep-alive connections are ended politely, and the
// servers go on serving for the drain window. After an upgrade readiness
// stays true, since the new process serves the same sockets, and the
// window is Upgrade.DrainDelay.
func (r *run) drain() {
	l := r.l
	if h := l.cfg.Health; h != nil && !r.upgraded.Load() {
		h.Drain()
	}
	done := l.begin(Draining, r.reason)
	for _, s := range r.servers {
		if d, ok := s.(Drainer); ok {
			d.Drain()
		}
	}
	window := l.b.drain
	if r.upgraded.Load() {
		window = l.b.upgradeDrain
	}
	if window > 0 && !l.wait(window) {
		r.cut = append(r.cut, fmt.Errorf("lifecycle: drain delay %v cut short by a forced stop: %w", window, ErrCutOff))
		done(slog.String("cut_off", "drain delay"))
		return
	}
	done()
}

// stopServers is the Stopping stage: servers shut down gracefully and
// workers' contexts end, within Config.ShutdownTimeout; servers still busy
// then are closed and workers still running abandoned.
func (r *run) stopServers() {
	l := r.l
	if h := l.cfg.Health; h != nil {
		h.Drain() // after an upgrade, readiness fails only now
	}
	done := l.begin(Stopping, r.reason)
	ctx, cancel := l.deadline(l.b.shutdown)
	defer cancel()
	r.cancelWork()
	shut := make([]chan struct{}, len(r.servers))
	for i, s := range r.servers {
		shut[i] = make(chan struct{})
		go func() {
			defer close(shut[i])
			if err := s.Shutdown(ctx); err != nil && ctx.Err() == nil {
				l.log.Warn("lifecycle: server shutdown", "server", nameOf(s, i), "err", err)
			}
		}()
	}
	var cutNames []string
	for i, s := range r.servers {
		if !waitOr(shut[i], ctx.Done()) || !waitOr(r.served[i], ctx.Done()) {
			name := nameOf(s, i)
			l.log.Warn("lifecycle: server did not finish in time; closing it", "server", name,
				"timeout", l.b.shutdown, "forced", l.forced())
			s.Close()
			cutNames = append(cutNames, name)
			r.cut = append(r.cut, fmt.Errorf("lifecycle: server %s closed with work in flight: %w", name, ErrCutOff))
		}
	}
	for i, w := range r.workers {
		if !waitOr(r.worked[i], ctx.Done()) {
			l.log.Warn("lifecycle: worker did not return in time; abandoning it", "worker", w.name,
				"timeout", l.b.shutdown, "forced", l.forced())
			cutNames = append(cutNames, w.name)
			r.cut = append(r.cut, fmt.Errorf("lifecycle: worker %s abandoned: %w", w.name, ErrCutOff))
		}
	}
	endStage(done, cutNames)
}

// flush is the Flushing stage: hooks in order, each within its own
// timeout, all within Config.FlushTimeout; after a forced stop or once the
// budget is spent, the rest are skipped.
func (r *run) flush() {
	l := r.l
	done := l.begin(Flushing, r.reason)
	end := l.clk.Nanotime() + int64(l.b.flush)
	var cutNames []string
	for _, hk := range r.hooks {
		left := time.Duration(end - l.clk.Nanotime())
		if l.forced() || left <= 0 {
			l.log.Warn("lifecycle: flush hook skipped", "hook", hk.name, "forced", l.forced())
			cutNames = append(cutNames, hk.name)
			r.cut = append(r.cut, fmt.Errorf("lifecycle: flush hook %s skipped: %w", hk.name, ErrCutOff))
			continue
		}
		d := left
		if hk.timeout > 0 && hk.timeout < d {
			d = hk.timeout
		}
		if err, finished := l.runHook(hk, d); !finished {
			l.log.Warn("lifecycle: flush hook did not return in time; abandoning it", "hook", hk.name,
				"timeout", d, "forced", l.forced())
			cutNames = append(cutNames, hk.name)
			r.cut = append(r.cut, fmt.Errorf("lifecycle: flush hook %s abandoned after %v: %w", hk.name, d, ErrCutOff))
		} else if err != nil {
			l.log.Error("lifecycle: flush hook failed", "hook", hk.name, "err", err)
			r.cut = append(r.cut, fmt.Errorf("lifecycle: flush hook %s: %w", hk.name, err))
		}
	}
	endStage(done, cutNames)
}

// result is Run's answer: the failure that started the shutdown, joined
// with whatever was cut off.
func (r *run) result() error {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	return errors.Join(append([]error{r.failure}, r.cut...)...)
}

// endStage logs a stage's end, with what it cut off if anything.
func endStage(done func(...slog.Attr), cutNames []string) {
	if len(cutNames) > 0 {
		done(slog.Any("cut_off", cutNames))
		return
	}
	done()
}
