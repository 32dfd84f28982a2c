package reload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/proxy"
	"github.com/levee-go/levee/observe"
)

// Errors of [Controller.Apply] and [Controller.Rollback]. A document that
// is not valid comes back as [config.Problems] instead.
var (
	// ErrStale: ApplyOptions.IfMatch names a hash other than the running
	// configuration's; someone else changed it first.
	ErrStale = errors.New("reload: the running configuration is not the one If-Match names")
	// ErrBadVersion: the document was rolled back by a self-check before;
	// ApplyOptions.Force applies it anyway.
	ErrBadVersion = errors.New("reload: this configuration was rolled back as harmful")
	// ErrNoSource: Reload has no file to read.
	ErrNoSource = errors.New("reload: no configuration file to reload")
	// ErrNoVersion: Rollback names a version not in the history.
	ErrNoVersion = errors.New("reload: no such version in the history")
)

// Sources of a configuration, as [Version.Source] and the metrics name
// them.
const (
	SourceFile     = "file"     // the file at start, or re-read on a change
	SourceSignal   = "signal"   // the file re-read on SIGHUP
	SourceAdmin    = "admin"    // the admin API
	SourceEtcd     = "etcd"     // an etcd key
	SourceRollback = "rollback" // a self-check or an operator rolled back
)

// Version is one applied configuration.
type Version struct {
	// Version numbers applied configurations from 1, in order.
	Version int `json:"version"`
	// Hash is the SHA-256 of Raw, in hex: the admin API's ETag.
	Hash string `json:"hash"`
	// Source says where the document came from (file, signal, admin,
	// etcd, rollback).
	Source string `json:"source"`
	// AppliedAt is when it started serving.
	AppliedAt time.Time `json:"applied_at"`
	// Bad reports that a self-check rolled it back, Reason why.
	Bad    bool   `json:"bad"`
	Reason string `json:"reason,omitempty"`
	// Raw is the YAML document as received.
	Raw []byte `json:"-"`
}

// ApplyOptions qualify one [Controller.Apply].
type ApplyOptions struct {
	// Source names where the document came from; empty means "admin".
	Source string
	// IfMatch, when set, is the hash the caller last saw (an ETag, quotes
	// and a W/ prefix allowed): Apply fails with ErrStale unless it is the
	// running configuration's.
	IfMatch string
	// Force applies a document a self-check rolled back before.
	Force bool
}

// Report says what an apply did.
type Report struct {
	// Unchanged reports that the document is the running one: nothing was
	// done.
	Unchanged bool `json:"unchanged"`
	// Version is the version now running.
	Version Version `json:"version"`
	// Previous is the version it replaced; 0 when Unchanged.
	Previous int `json:"previous,omitempty"`
	// Carried lists, per stateful policy of the new configuration, whether
	// its running state was kept or reset, and why.
	Carried []proxy.Carried `json:"carried,omitempty"`
	// Duration is the time from the document to its runtime serving.
	Duration time.Duration `json:"duration_ns"`
	// SelfCheck reports that a self-check now watches the new version.
	SelfCheck bool `json:"self_check"`
}

// Options configure a [Controller]. Proxy is required; the rest may be
// zero.
type Options struct {
	// Path is the configuration file, read again by [Controller.Reload]
	// and watched by [Controller.WatchFile]. Empty means no file.
	Path string
	// Proxy are the options every runtime's Proxy is built with
	// (Previous is set by the controller). Proxy.Dir is also where
	// relative file names in configurations are read from.
	Proxy proxy.Options
	// Logger receives one record per reload attempt, self-check result
	// and rollback. Nil means [slog.Default].
	Logger *slog.Logger
	// Clock times the self-check, the file watch's debounce, warming and
	// draining. Nil means [clock.Real].
	Clock clock.Clock
	// LookupEnv looks up the environment variables of secret fields. Nil
	// means [os.LookupEnv].
	LookupEnv func(string) (string, bool)
	// Metrics, when set, counts reloads. Nil means none.
	Metrics *observe.ReloadMetrics
}

// Controller owns the running configuration and applies new ones. It is
// safe for concurrent use: applies are serialized, and serving never
// waits for them.
type Controller struct {
	opts Options
	log  *slog.Logger
	clk  clock.Clock

	cur atomic.Pointer[runtime]

	mu       sync.Mutex // serializes applies; guards what follows
	next     int        // the next version number
	history  []Version  // newest last
	bad      map[string]string
	status   Status
	checkGen uint64 // the self-check running is of this generation
	closed   bool
	wg       sync.WaitGroup // drains and self-checks
	stop     chan struct{}
}

// New builds the first runtime from cfg, decoded from raw, a document
// that came from source, and returns the Controller serving it. A nil cfg
// is decoded from raw here; a nil raw (a configuration built in code)
// leaves the first version without a document to roll back to. New does
// not warm the first runtime: a gateway starting up serves at once.
func New(cfg *config.Config, raw []byte, source string, opts Options) (*Controller, error) {
	c := &Controller{opts: opts, log: opts.Logger, clk: clock.Or(opts.Clock), next: 1, bad: map[string]string{}, stop: make(chan struct{})}
	if c.log == nil {
		c.log = slog.Default()
	}
	if cfg == nil {
		var err error
		if cfg, err = c.parse(raw); err != nil {
			return nil, err
		}
	}
	p, err := proxy.New(cfg, opts.Proxy)
	if err != nil {
		return nil, err
	}
	v := c.version(raw, source)
	rt, err := newRuntime(v, cfg, p)
	if err != nil {
		p.Close()
		return nil, err
	}
	c.cur.Store(rt)
	c.history = []Version{v}
	c.status.Current = v
	opts.Metrics.Applied(v.Version, v.AppliedAt, 0)
	return c, nil
}

func (c *Controller) parse(raw []byte) (*config.Config, error) {
	return config.Parse(raw, config.Options{LookupEnv: c.opts.LookupEnv, Dir: c.opts.Proxy.Dir})
}

func (c *Controller) version(raw []byte, source string) Version {
	v := Version{Version: c.next, Hash: Hash(raw), Source: source, AppliedAt: c.clk.Now(), Raw: raw}
	c.next++
	return v
}

// Hash is the hash of a document, as [Version.Hash] and the admin API's
// ETag give it.
func Hash(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// Handler returns the handler of the listener named name: every request
// goes to the runtime current when it arrives.
func (c *Controller) Handler(name string) (http.Handler, error) {
	if _, ok := c.cur.Load().handlers[name]; !ok {
		return nil, fmt.Errorf("reload: no listener is named %q", name)
	}
	return &listenerHandler{c: c, name: name}, nil
}

// Current returns the running version.
func (c *Controller) Current() Version { return c.cur.Load().version }

// Config returns the running configuration.
func (c *Controller) Config() *config.Config { return c.cur.Load().cfg }

// Proxy returns the running Proxy. It stays usable after a reload until
// its drain ends; read it again rather than keep it.
func (c *Controller) Proxy() *proxy.Proxy { return c.cur.Load().proxy }

// History returns the last applied versions (reload.history of them),
// oldest first, the running one last.
func (c *Controller) History() []Version {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Version, len(c.history))
	for i, v := range c.history {
		v.Bad, v.Reason = c.badReason(v.Hash)
		out[i] = v
	}
	return out
}

func (c *Controller) badReason(hash string) (bool, string) {
	r, ok := c.bad[hash]
	return ok, r
}

// Apply makes raw the running configuration (see the package doc). It
// returns ErrStale, ErrBadVersion, [config.Problems] for a document that
// is not valid, or another error saying what failed; the running
// configuration then stays.
func (c *Controller) Apply(ctx context.Context, raw []byte, opts ApplyOptions) (Report, error) {
	if opts.Source == "" {
		opts.Source = SourceAdmin
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.apply(ctx, raw, opts, true)
}

// Reload reads the configuration file again and applies it, as the file
// watch and SIGHUP do (Source "file"). It returns ErrNoSource without a
// file.
func (c *Controller) Reload(ctx context.Context) (Report, error) {
	return c.reloadFile(ctx, SourceFile)
}

// Signal is Reload for SIGHUP: the same, with Source "signal".
func (c *Controller) Signal(ctx context.Context) (Report, error) {
	return c.reloadFile(ctx, SourceSignal)
}

func (c *Controller) reloadFile(ctx context.Context, source string) (Report, error) {
	if c.opts.Path == "" {
		return Report{}, ErrNoSource
	}
	raw, err := readFile(c.opts.Path)
	if err != nil {
		c.mu.Lock()
		c.fail(source, Hash(nil), err)
		c.mu.Unlock()
		return Report{}, err
	}
	return c.Apply(ctx, raw, ApplyOptions{Source: source})
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reload: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, config.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reload: %w", err)
	}
	return raw, nil
}

// Rollback applies the document of an earlier version again (Source
// "rollback"), without a self-check. A version a self-check marked bad
// needs force.
func (c *Controller) Rollback(ctx context.Context, version int, force bool) (Report, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.history {
		if v.Version == version {
			return c.apply(ctx, v.Raw, ApplyOptions{Source: SourceRollback, Force: force}, false)
		}
	}
	return Report{}, fmt.Errorf("%w: %d", ErrNoVersion, version)
}

// notReloadable lists the sections a reload cannot change: the sockets
// and servers built once at start.
func notReloadable(old, cur *config.Config) config.Problems {
	var ps config.Problems
	check := func(path string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			ps = append(ps, config.Problem{Path: path, Message: "cannot change while running; restart or upgrade the binary (SIGUSR2) to apply it"})
		}
	}
	check("listeners", old.Listeners, cur.Listeners)
	check("admin", old.Admin, cur.Admin)
	check("access_log", old.AccessLog, cur.AccessLog)
	check("tracing", old.Tracing, cur.Tracing)
	return ps
}

// apply is Apply with c.mu held; check says whether to start a
// self-check after the swap.
func (c *Controller) apply(ctx context.Context, raw []byte, opts ApplyOptions, check bool) (Report, error) {
	start := c.clk.Nanotime()
	if c.closed {
		return Report{}, errors.New("reload: the controller is closed")
	}
	old := c.cur.Load()
	hash := Hash(raw)
	if opts.IfMatch != "" && unquote(opts.IfMatch) != old.version.Hash {
		return Report{}, c.fail(opts.Source, hash, ErrStale)
	}
	if hash == old.version.Hash {
		c.opts.Metrics.Attempt(opts.Source, "unchanged")
		c.status.Last = &Attempt{Source: opts.Source, Hash: hash, At: c.clk.Now(), Result: "unchanged"}
		return Report{Unchanged: true, Version: old.version}, nil
	}
	if reason, bad := c.bad[hash]; bad && !opts.Force {
		return Report{}, c.fail(opts.Source, hash, fmt.Errorf("%w (%s); force to apply it anyway", ErrBadVersion, reason))
	}
	cfg, err := c.parse(raw)
	if err != nil {
		return Report{}, c.fail(opts.Source, hash, err)
	}
	if ps := notReloadable(old.cfg, cfg); len(ps) > 0 {
		return Report{}, c.fail(opts.Source, hash, ps)
	}
	po := c.opts.Proxy
	po.Previous = old.proxy
	p, err := proxy.New(cfg, po)
	if err != nil {
		return Report{}, c.fail(opts.Source, hash, err)
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.Reload.WarmTimeout)
	err = p.Warm(wctx)
	cancel()
	if err != nil {
		p.Close()
		return Report{}, c.fail(opts.Source, hash, fmt.Errorf("reload: warming the new runtime: %w", err))
	}
	v := c.version(raw, opts.Source)
	rt, err := newRuntime(v, cfg, p)
	if err != nil {
		p.Close()
		return Report{}, c.fail(opts.Source, hash, err)
	}
	// The swap: from here on every new request takes rt.
	c.cur.Store(rt)
	c.drain(old, rt)
	d := time.Duration(c.clk.Nanotime() - start)
	c.history = append(c.history, v)
	if n := cfg.Reload.History; len(c.history) > n {
		c.history = append([]Version(nil), c.history[len(c.history)-n:]...)
	}
	c.status.Current = v
	c.status.Last = &Attempt{Source: opts.Source, Hash: hash, At: v.AppliedAt, Result: "applied", Version: v.Version}
	c.checkGen++ // a self-check of the replaced version no longer applies
	rep := Report{Version: v, Previous: old.version.Version, Carried: p.Carried(), Duration: d}
	if check && cfg.Reload.SelfCheck.Period > 0 {
		rep.SelfCheck = c.startSelfCheck(rt, old.version)
	} else {
		c.status.SelfCheck = nil
	}
	c.opts.Metrics.Attempt(opts.Source, "applied")
	c.opts.Metrics.Applied(v.Version, v.AppliedAt, d)
	kept := 0
	for _, it := range rep.Carried {
		if it.Carried {
			kept++
		}
	}
	c.log.Info("reload: applied", "version", v.Version, "previous", old.version.Version, "hash", short(hash),
		"source", opts.Source, "carried", kept, "reset", len(rep.Carried)-kept, "duration", d)
	return rep, nil
}

// drain retires old once rt serves: it waits for old's requests in flight
// (at most reload.drain_timeout) and then closes it.
func (c *Controller) drain(old, rt *runtime) {
	drained := old.retire()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		tm := c.clk.NewTimer(rt.cfg.Reload.DrainTimeout)
		defer tm.Stop()
		select {
		case <-drained:
		case <-tm.C():
			c.log.Warn("reload: drain timed out; stopping the old runtime with requests in flight",
				"version", old.version.Version, "in_flight", old.inflight.Load())
		case <-c.stop:
		}
		old.proxy.Retire(rt.proxy)
	}()
}

// fail records a reload that did not replace the running configuration
// and returns err.
func (c *Controller) fail(source, hash string, err error) error {
	c.opts.Metrics.Attempt(source, "failed")
	c.status.Last = &Attempt{Source: source, Hash: hash, At: c.clk.Now(), Result: "failed", Error: err.Error()}
	var ps config.Problems
	if errors.As(err, &ps) {
		c.status.Last.Problems = ps
	}
	c.log.Warn("reload: failed; the running configuration stays", "source", source, "hash", short(hash),
		"running", c.cur.Load().version.Version, "error", err.Error())
	return err
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

func unquote(etag string) string {
	etag = strings.TrimPrefix(strings.TrimSpace(etag), "W/")
	return strings.Trim(etag, `"`)
}

// Close stops the self-check and the file watch, stops waiting for
// drains (closing the retired runtimes), and closes the running Proxy.
// Requests still in flight through it are not cut.
func (c *Controller) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.checkGen++
	close(c.stop)
	c.mu.Unlock()
	c.wg.Wait()
	c.cur.Load().proxy.Close()
}
