package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/proxy"
	"github.com/levee-go/levee/gateway/reload"
	"github.com/levee-go/levee/health"
	"github.com/levee-go/levee/lifecycle"
	"github.com/levee-go/levee/observe"
)

// Options tune [Run]. The zero value works.
type Options struct {
	// Dir is the directory relative file names in the configuration (TLS
	// certificates, CA files) are read from: the configuration file's.
	// Empty means the current directory.
	Dir string
	// Logger receives the lifecycle's stages, one "listening" record per
	// listener (with its bound address, which tells a port chosen by the
	// system), and warnings for requests not forwarded. Nil means
	// [slog.Default].
	Logger *slog.Logger
	// Lifecycle is the shutdown budget and signals; Health and Logger are
	// filled in by Run. The zero value drains for 5s and stops within 30s
	// on SIGTERM or SIGINT. Upgrade.Signals nil means SIGUSR2 alone:
	// SIGHUP reloads the configuration, as nginx's convention has it.
	Lifecycle lifecycle.Config
	// Path is the configuration file cfg was read from, which SIGHUP and
	// the reload controller read again, and which is watched when
	// reload.watch is on. Empty means no file: cfg is never reloaded but
	// through the controller's Apply.
	Path string
	// Raw is the document cfg was decoded from: the first version's, which
	// the admin API serves and a rollback applies again. Nil for a
	// configuration built in code.
	Raw []byte
	// Started, when set, is called with the reload controller once the
	// gateway serves, for the admin API and other configuration sources
	// (an etcd watch calls its Apply with Source reload.SourceEtcd).
	Started func(*reload.Controller)
}

// Run serves cfg until ctx ends or a stop signal arrives, then drains and
// returns: nil after a clean shutdown, or an error saying what failed or
// was cut off. cfg must come from [config.Load] (and so be valid).
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	access, closeAccess, err := accessLog(cfg.AccessLog, opts.Dir)
	if err != nil {
		return err
	}
	defer closeAccess()
	metrics, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		return err
	}
	tracing, err := startTracing(ctx, cfg.Tracing)
	if err != nil {
		return err
	}
	defer stopTracing(tracing)
	ctl, err := reload.New(cfg, opts.Raw, reload.SourceFile, reload.Options{
		Path:    opts.Path,
		Proxy:   proxy.Options{Dir: opts.Dir, Logger: log, AccessLog: access, Metrics: metrics, Tracing: tracing},
		Logger:  log,
		Metrics: metrics.Reloads(),
	})
	if err != nil {
		return err
	}
	defer ctl.Close()
	h, err := health.New(health.Config{Name: "levee"})
	if err != nil {
		return err
	}
	defer h.Close()
	lc := opts.Lifecycle
	lc.Health, lc.Logger = h, log
	if lc.Upgrade.Signals == nil {
		lc.Upgrade.Signals = upgradeSignals
	}
	if lc.Name == "" {
		lc.Name = "levee"
	}
	l, err := lifecycle.New(lc)
	if err != nil {
		return err
	}
	metrics.Policies().Register(l)
	var listeners []net.Listener
	closeAll := func() {
		for _, ln := range listeners {
			ln.Close()
		}
	}
	for _, lcfg := range cfg.Listeners {
		srv, ln, err := listen(l, ctl, lcfg, opts.Dir, log)
		if err != nil {
			closeAll()
			return err
		}
		listeners = append(listeners, ln)
		if err := l.Add(lifecycle.HTTP(srv, ln)); err != nil {
			closeAll()
			return err
		}
	}
	srv, ln, err := admin(l, h, metrics, cfg.Admin, log)
	if err != nil {
		closeAll()
		return err
	}
	if err := l.Add(lifecycle.HTTP(srv, ln)); err != nil {
		ln.Close()
		closeAll()
		return err
	}
	stopReloads := reloads(ctx, ctl, opts.Path, log)
	defer stopReloads()
	if opts.Started != nil {
		opts.Started(ctl)
	}
	return l.Run(ctx)
}

// reloads starts the reload sources of the configuration file: SIGHUP,
// and the file watch (which acts while the running reload.watch is on). The returned function stops
// them.
func reloads(ctx context.Context, ctl *reload.Controller, path string, log *slog.Logger) (stop func()) {
	if path == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_, _ = ctl.Signal(ctx) // logged, counted and in the status
			}
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := ctl.WatchFile(ctx); err != nil {
			log.Error("reload: the file watch stopped", "path", path, "error", err.Error())
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		wg.Wait()
	}
}

// listen opens a listener's socket and builds its server: the handler for
// that listener of whichever runtime the reload controller runs, its timeouts and header limit, and TLS or
// h2c when configured.
func listen(l *lifecycle.Lifecycle, ctl *reload.Controller, lc config.Listener, dir string, log *slog.Logger) (*http.Server, net.Listener, error) {
	handler, err := ctl.Handler(lc.Name)
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: lc.Timeouts.ReadHeader,
		ReadTimeout:       lc.Timeouts.Read,
		WriteTimeout:      lc.Timeouts.Write,
		IdleTimeout:       lc.Timeouts.Idle,
		MaxHeaderBytes:    int(lc.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	var tlsConfig *tls.Config
	if lc.TLS != nil {
		cert, err := tls.LoadX509KeyPair(resolve(dir, lc.TLS.CertFile), resolve(dir, lc.TLS.KeyFile))
		if err != nil {
			return nil, nil, fmt.Errorf("listener %s: %w", lc.Name, err)
		}
		tlsConfig = &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		}
		srv.TLSConfig = tlsConfig
	}
	if lc.H2C {
		var protos http.Protocols
		protos.SetHTTP1(true)
		protos.SetUnencryptedHTTP2(true)
		srv.Protocols = &protos
	}
	ln, err := l.Listen("tcp", lc.Address)
	if err != nil {
		return nil, nil, fmt.Errorf("listener %s: %w", lc.Name, err)
	}
	log.Info("listening", "listener", lc.Name, "address", ln.Addr().String(), "tls", lc.TLS != nil, "h2c", lc.H2C)
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	return srv, ln, nil
}

// admin builds the admin server: the health probes /livez, /readyz and
// /startupz, and the Prometheus metrics on /metrics. They take no token,
// so that probes and scrapers need no secret.
func admin(l *lifecycle.Lifecycle, h *health.Health, m *observe.ProxyMetrics, a config.Admin, log *slog.Logger) (*http.Server, net.Listener, error) {
	mux := http.NewServeMux()
	h.Register(mux)
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := l.Listen("tcp", a.Address)
	if err != nil {
		return nil, nil, fmt.Errorf("admin: %w", err)
	}
	log.Info("listening", "listener", "admin", "address", ln.Addr().String())
	return srv, ln, nil
}

func resolve(dir, name string) string {
	if filepath.IsAbs(name) || dir == "" {
		return name
	}
	return filepath.Join(dir, name)
}

// accessLog opens the configured access log: JSON lines to stdout, stderr
// or a file (appended to, created with mode 0640). Nil config means none.
func accessLog(a *config.AccessLog, dir string) (*slog.Logger, func(), error) {
	if a == nil {
		return nil, func() {}, nil
	}
	var w io.Writer
	closeFn := func() {}
	switch a.Path {
	case "", "stdout":
		w = os.Stdout
	case "stderr":
		w = os.Stderr
	default:
		f, err := os.OpenFile(resolve(dir, a.Path), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("access_log: %w", err)
		}
		w = f
		closeFn = func() { f.Close() }
	}
	return slog.New(slog.NewJSONHandler(w, nil)), closeFn, nil
}
