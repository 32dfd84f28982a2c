package etcdsource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/levee-go/levee/clock"
)

// Environment variables the command reads the credentials from, so that a
// password never appears in a process listing.
const (
	EnvUsername = "LEVEE_ETCD_USERNAME"
	EnvPassword = "LEVEE_ETCD_PASSWORD"
)

// Defaults of [Config].
const (
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 5 * time.Second
	DefaultProbeInterval  = 2 * time.Second
	DefaultBackoffBase    = 100 * time.Millisecond
	DefaultBackoffMax     = 10 * time.Second
)

// Config says where the configuration lives and how to reach it. The
// command fills it from its flags (--etcd-endpoints, --etcd-key,
// --etcd-dial-timeout, --etcd-ca-file, --etcd-cert-file, --etcd-key-file)
// and the environment ([EnvUsername], [EnvPassword]).
type Config struct {
	// Endpoints are the etcd client URLs, such as "http://127.0.0.1:2379".
	// At least one is required.
	Endpoints []string
	// Key is the etcd key whose value is the gateway's YAML configuration.
	// Required.
	Key string
	// DialTimeout bounds each connection attempt. Zero means
	// [DefaultDialTimeout] (5s); negative is an error.
	DialTimeout time.Duration
	// RequestTimeout bounds each read of the key and each health probe.
	// Zero means [DefaultRequestTimeout] (5s); negative is an error.
	RequestTimeout time.Duration
	// ProbeInterval is how often a running watch checks that etcd still
	// answers: a watch on a connection that died reports nothing, so
	// without a probe a lost etcd would go unnoticed. Zero means
	// [DefaultProbeInterval] (2s); negative is an error.
	ProbeInterval time.Duration
	// Username and Password authenticate to etcd when Username is set.
	// A password without a username is an error.
	Username, Password string
	// CAFile verifies the server's certificate (PEM); CertFile and KeyFile
	// are the client's certificate and key (PEM), both or neither. Any of
	// them set selects TLS; all empty means plain connections.
	CAFile, CertFile, KeyFile string
	// Clock times the waits between reconnections and the probes. Nil
	// means [clock.Real].
	Clock clock.Clock
	// Backoff returns the wait before reconnection attempt n (n ≥ 1 after
	// n failures in a row). Nil means [DefaultBackoff].
	Backoff func(n int) time.Duration
	// Logger receives a line per applied, refused or lost configuration.
	// Nil means [slog.Default].
	Logger *slog.Logger
}

// Apply receives a complete value of the key and the revision that wrote
// it (its ModRevision). It returns an error when the value must not
// replace the running configuration (it does not parse, or fails
// validation); the source reports it and waits for the next change.
type Apply func(ctx context.Context, raw []byte, revision int64) error

// Status is what a [Source] knows of itself, for the admin API and logs.
type Status struct {
	// Connected reports that the last request to etcd succeeded and the
	// watch is running.
	Connected bool
	// Revision is the revision of the value last applied (0: none yet).
	Revision int64
	// Seen is the latest revision of the key the source has seen, applied
	// or not; a watch resumes after it.
	Seen int64
	// Applied counts the values applied; Refused the values apply
	// returned an error for.
	Applied, Refused int
	// LastError is the last problem: etcd unreachable, a value refused, the
	// key missing or deleted. Nil until one happens; cleared by the next
	// value applied. LastErrorTime is when it happened.
	LastError     error
	LastErrorTime time.Time
}

// Source watches one etcd key and hands each new value to its [Apply]. A
// Source is made by [New] and run by [Source.Run]; [Source.Status] may be
// called from any goroutine.
type Source struct {
	cfg   Config
	tls   *tls.Config
	apply Apply
	clk   clock.Clock
	log   *slog.Logger

	mu sync.Mutex
	st Status
}

// New checks cfg and returns a source that will call apply. It does not
// connect: [Source.Run] does.
func New(cfg Config, apply Apply) (*Source, error) {
	switch {
	case len(cfg.Endpoints) == 0:
		return nil, errors.New("etcdsource: Endpoints: at least one etcd endpoint is required")
	case cfg.Key == "":
		return nil, errors.New("etcdsource: Key: the etcd key holding the configuration is required")
	case cfg.DialTimeout < 0:
		return nil, fmt.Errorf("etcdsource: DialTimeout = %v, want >= 0 (0 means %v)", cfg.DialTimeout, DefaultDialTimeout)
	case cfg.RequestTimeout < 0:
		return nil, fmt.Errorf("etcdsource: RequestTimeout = %v, want >= 0 (0 means %v)", cfg.RequestTimeout, DefaultRequestTimeout)
	case cfg.ProbeInterval < 0:
		return nil, fmt.Errorf("etcdsource: ProbeInterval = %v, want >= 0 (0 means %v)", cfg.ProbeInterval, DefaultProbeInterval)
	case cfg.Password != "" && cfg.Username == "":
		return nil, errors.New("etcdsource: Password is set without Username")
	case (cfg.CertFile == "") != (cfg.KeyFile == ""):
		return nil, fmt.Errorf("etcdsource: CertFile %q and KeyFile %q: set both or neither", cfg.CertFile, cfg.KeyFile)
	case apply == nil:
		return nil, errors.New("etcdsource: apply is nil")
	}
	for i, e := range cfg.Endpoints {
		if e == "" {
			return nil, fmt.Errorf("etcdsource: Endpoints[%d] is empty", i)
		}
	}
	tc, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Source{cfg: cfg, tls: tc, apply: apply, clk: clock.Or(cfg.Clock),
		log: log.With("source", "etcd", "key", cfg.Key)}, nil
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	if cfg.CAFile == "" && cfg.CertFile == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("etcdsource: CAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcdsource: CAFile %q: no PEM certificate in it", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcdsource: CertFile/KeyFile: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// DefaultBackoff is the wait before reconnection attempt n when
// [Config.Backoff] is nil: exponential from [DefaultBackoffBase] (100ms),
// doubling, capped at [DefaultBackoffMax] (10s), with ±20% jitter so that
// many gateways do not reconnect in step.
func DefaultBackoff(n int) time.Duration {
	d := DefaultBackoffBase << min(max(n-1, 0), 10)
	d = min(d, DefaultBackoffMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Status returns a copy of the source's status.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Run watches the key until ctx ends, then returns nil. It delivers the
// key's current value first, then every change, each as one complete value
// with its revision. Run never gives up: when etcd cannot be reached, or
// the connection is lost, it reports it ([Source.Status], the log) and
// reconnects after [Config.Backoff], resuming the watch after the last
// revision it saw, so a change made meanwhile is delivered; when that
// revision has been compacted away it reads the key afresh. A value apply
// refuses is reported and skipped; the next change is tried.
//
// Run may be called again after it returns (not concurrently): it resumes
// where the previous run stopped.
func (s *Source) Run(ctx context.Context) error {
	failures := 0
	for {
		connected, err := s.session(ctx)
		if ctx.Err() != nil {
			s.setConnected(false)
			return nil
		}
		if connected {
			failures = 0
		}
		failures++
		s.fail(fmt.Errorf("etcd %v: %w", s.cfg.Endpoints, err), "etcd unreachable; keeping the running configuration")
		s.setConnected(false)
		t := s.clk.NewTimer(s.cfg.Backoff(failures))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// ErrNotFound is returned by [Source.Initial] when the key does not exist.
var ErrNotFound = errors.New("etcdsource: configuration key not found")

// Initial reads the key's current value once, for a process that needs its
// configuration before it can start, and returns it with the revision
// that wrote it. The source then counts that value as applied: a
// [Source.Run] that follows delivers only the changes after it. A key that
// does not exist returns an error matching [ErrNotFound]; etcd not
// answering within the timeouts returns its error. Either is recorded in
// [Source.Status] too.
func (s *Source) Initial(ctx context.Context) (raw []byte, revision int64, err error) {
	cli, err := s.client(ctx)
	if err != nil {
		s.fail(err, "etcd unreachable")
		return nil, 0, err
	}
	defer cli.Close()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	resp, err := cli.Get(rctx, s.cfg.Key)
	cancel()
	if err != nil {
		err = fmt.Errorf("etcdsource: reading %q from %v: %w", s.cfg.Key, s.cfg.Endpoints, err)
		s.fail(err, "etcd unreachable")
		return nil, 0, err
	}
	if len(resp.Kvs) == 0 {
		err = fmt.Errorf("%w: %q at revision %d", ErrNotFound, s.cfg.Key, resp.Header.Revision)
		s.fail(err, "configuration key missing")
		return nil, 0, err
	}
	kv := resp.Kvs[0]
	s.mu.Lock()
	s.st.Seen = max(s.st.Seen, resp.Header.Revision)
	s.st.Revision = kv.ModRevision
	s.st.Applied++
	s.st.LastError = nil
	s.mu.Unlock()
	return kv.Value, kv.ModRevision, nil
}

func (s *Source) client(ctx context.Context) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   s.cfg.Endpoints,
		DialTimeout: s.cfg.DialTimeout,
		Username:    s.cfg.Username,
		Password:    s.cfg.Password,
		TLS:         s.tls,
		Logger:      zap.NewNop(),
		Context:     ctx,
	})
}

// session connects, catches up, and watches until the connection fails or
// ctx ends. connected reports that etcd answered at least once.
func (s *Source) session(ctx context.Context) (connected bool, err error) {
	cli, err := s.client(ctx)
	if err != nil {
		return false, err
	}
	defer cli.Close()

	// A failed probe cancels the session with its error: a Watch call, or a
	// watch, on a connection that died would otherwise wait for ever.
	ctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel, before Close: the probe has ended
	defer cancel(nil)
	from := s.Status().Seen + 1
	if from == 1 {
		if from, err = s.read(ctx, cli); err != nil {
			return false, err
		}
	} else if err := s.probe(ctx, cli); err != nil {
		return false, err
	}
	s.setConnected(true)

	wg.Go(func() {
		if err := s.probeLoop(ctx, cli); err != nil && ctx.Err() == nil {
			s.setConnected(false)
			cancel(err)
		}
	})
	for {
		w := cli.Watch(clientv3.WithRequireLeader(ctx), s.cfg.Key, clientv3.WithRev(from))
		from, err = s.watch(ctx, cli, w)
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return true, cause // the probe's
			}
			return true, err
		}
	}
}

// watch delivers the changes of one watch. It returns the revision a new
// watch must start from when this one ended because its start was
// compacted (after reading the key afresh), or the error that ended it.
func (s *Source) watch(ctx context.Context, cli *clientv3.Client, w clientv3.WatchChan) (int64, error) {
	for {
		select {
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		case resp, ok := <-w:
			if !ok {
				if ctx.Err() != nil {
					return 0, ctx.Err()
				}
				return 0, errors.New("watch closed")
			}
			if resp.CompactRevision != 0 {
				s.log.Warn("watch start compacted; reading the key afresh", "compact_revision", resp.CompactRevision)
				return s.read(ctx, cli)
			}
			if err := resp.Err(); err != nil {
				return 0, err
			}
			s.events(ctx, resp.Events)
		}
	}
}

// events handles the events of one watch response. Only the last one
// matters: the events of one response are already history.
func (s *Source) events(ctx context.Context, evs []*clientv3.Event) {
	if len(evs) == 0 {
		return
	}
	ev := evs[len(evs)-1]
	switch ev.Type {
	case clientv3.EventTypePut:
		s.deliver(ctx, ev.Kv.Value, ev.Kv.ModRevision)
	case clientv3.EventTypeDelete:
		s.see(ev.Kv.ModRevision)
		s.fail(fmt.Errorf("key %q deleted at revision %d", s.cfg.Key, ev.Kv.ModRevision), "configuration key deleted; keeping the running configuration")
	}
}

// read gets the key's current value, delivers it unless it was applied or
// refused already, and returns the revision a watch starts from.
func (s *Source) read(ctx context.Context, cli *clientv3.Client) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	resp, err := cli.Get(rctx, s.cfg.Key)
	cancel()
	if err != nil {
		return 0, err
	}
	s.setConnected(true) // before apply runs: etcd has answered
	if len(resp.Kvs) == 0 {
		s.see(resp.Header.Revision)
		s.fail(fmt.Errorf("key %q not found at revision %d", s.cfg.Key, resp.Header.Revision), "configuration key missing; waiting for it")
	} else if kv := resp.Kvs[0]; kv.ModRevision > s.Status().Seen {
		s.deliver(ctx, kv.Value, kv.ModRevision)
	}
	s.see(resp.Header.Revision)
	return resp.Header.Revision + 1, nil
}

// probe checks that etcd answers.
func (s *Source) probe(ctx context.Context, cli *clientv3.Client) error {
	pctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	_, err := cli.Get(pctx, s.cfg.Key, clientv3.WithCountOnly())
	return err
}

// probeLoop probes every ProbeInterval until a probe fails (its error) or
// ctx ends (nil).
func (s *Source) probeLoop(ctx context.Context, cli *clientv3.Client) error {
	for {
		t := s.clk.NewTimer(s.cfg.ProbeInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
		if err := s.probe(ctx, cli); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("probe: %w", err)
		}
		s.setConnected(true)
	}
}

// deliver hands a complete value to apply and records what came of it.
func (s *Source) deliver(ctx context.Context, raw []byte, rev int64) {
	s.see(rev)
	err := s.apply(ctx, raw, rev)
	s.mu.Lock()
	if err != nil {
		s.st.Refused++
	} else {
		s.st.Applied++
		s.st.Revision = rev
		s.st.LastError = nil
	}
	s.mu.Unlock()
	if err != nil {
		s.fail(fmt.Errorf("revision %d refused: %w", rev, err), "configuration refused; keeping the running configuration")
		return
	}
	s.log.Info("configuration applied", "revision", rev, "bytes", len(raw))
}

func (s *Source) see(rev int64) {
	s.mu.Lock()
	s.st.Seen = max(s.st.Seen, rev)
	s.mu.Unlock()
}

func (s *Source) setConnected(c bool) {
	s.mu.Lock()
	s.st.Connected = c
	s.mu.Unlock()
}

func (s *Source) fail(err error, msg string) {
	s.mu.Lock()
	s.st.LastError, s.st.LastErrorTime = err, s.clk.Now()
	s.mu.Unlock()
	s.log.Warn(msg, "err", err)
}
