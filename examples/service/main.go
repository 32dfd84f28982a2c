// Command service is a complete HTTP service protected the recommended way,
// from the edge of the process to its dependency:
//
//   - probes (/livez, /readyz, /startupz) and /metrics are served outside
//     every gate, so an open breaker or a rate limit never fails a probe or
//     hides the metrics;
//   - the API is wrapped, outermost first, in panic recovery, deadline and
//     criticality propagation, a per-client rate limit shared through Redis
//     (falling back to a local share of it while Redis is away), request
//     metrics and an availability SLO, and a bulkhead;
//   - calls to the dependency go through a transport with a breaker per host,
//     retries within a budget and a per-attempt time limit;
//   - request metrics, policy metrics and the SLO's series share one
//     Prometheus registry;
//   - the lifecycle serves the protected handler, drains it on SIGTERM
//     (readiness off first, keep-alive ended with "Connection: close") and
//     flushes.
//
// Run it:
//
//	go run ./examples/service                       # Redis at 127.0.0.1:6379 if it answers
//	curl -i localhost:8080/api/items                # 200, with RateLimit fields
//	curl -s localhost:8080/metrics | grep ^levee_   # every series on one registry
//
// Without -dependency it starts a small loopback dependency of its own that
// fails while the file named by -fail-file exists, so the breaker can be
// watched opening and closing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/health"
	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/lifecycle"
	"github.com/levee-go/levee/observe"
	"github.com/levee-go/levee/redislimit"
	"github.com/levee-go/levee/retry"
	"github.com/levee-go/levee/slo"
	"github.com/levee-go/levee/timelimit"
)

func main() {
	var cfg Config
	flag.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address to serve on")
	flag.StringVar(&cfg.Redis, "redis", "127.0.0.1:6379", "Redis address for the shared rate limit")
	flag.StringVar(&cfg.Dependency, "dependency", "", "base URL of the dependency (empty: start a built-in one)")
	flag.StringVar(&cfg.FailFile, "fail-file", "", "with the built-in dependency: it fails while this file exists")
	flag.IntVar(&cfg.RatePerSecond, "rate", 20, "requests per second allowed per client")
	flag.Parse()

	// The lifecycle handles SIGTERM and SIGINT itself: the first drains, a
	// second forces the stop.
	if err := Run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
}

// Config is what Run needs. The zero value serves on a free loopback port,
// with Redis at 127.0.0.1:6379 and a built-in dependency.
type Config struct {
	Addr          string // address to serve on; empty means 127.0.0.1:0
	Redis         string // Redis address; empty means 127.0.0.1:6379
	Dependency    string // dependency base URL; empty starts a built-in one
	FailFile      string // the built-in dependency fails while this file exists
	RatePerSecond int    // requests per second per client; zero means 20
	RedisPrefix   string // prefix of the limiter's Redis keys; empty means "levee:example:"

	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// when telling clients apart. Empty means none: the peer is the client.
	TrustedProxies []netip.Prefix

	// Ready, when set, is called with the address the service listens on
	// once it is ready to serve.
	Ready func(addr string)
	// Logger receives the lifecycle's records. Nil means slog.Default().
	Logger *slog.Logger
	// Signals start the drain. Nil means SIGTERM and SIGINT; an empty
	// non-nil slice means none (ctx still stops the service).
	Signals []os.Signal
	// GracePeriod is the whole shutdown budget. Zero means 30s.
	GracePeriod time.Duration
}

// Run serves until ctx ends, then drains and returns.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Redis == "" {
		cfg.Redis = "127.0.0.1:6379"
	}
	if cfg.RedisPrefix == "" {
		cfg.RedisPrefix = "levee:example:"
	}
	if cfg.RatePerSecond == 0 {
		cfg.RatePerSecond = 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}

	if cfg.Dependency == "" {
		url, closeDep, err := startDependency(cfg.FailFile)
		if err != nil {
			return err
		}
		defer closeDep()
		cfg.Dependency = url
	}

	// One registry for everything this process exports.
	reg := prometheus.NewRegistry()
	metrics, err := observe.NewMetrics(reg, observe.MetricsOptions{})
	if err != nil {
		return err
	}

	// The client side: a breaker per dependency host, retries within a
	// budget, and a time limit per attempt.
	budget, err := retry.NewRatioBudget(retry.RatioBudgetConfig{})
	if err != nil {
		return err
	}
	newPipeline := func(host string) *levee.Pipeline {
		b, err := breaker.New(breaker.Config{Name: "dependency " + host, MinCalls: 10, FailureRate: 50, OpenWait: time.Second})
		if err != nil {
			panic(err) // the configuration above is fixed and valid
		}
		metrics.Register(b)
		r, err := retry.New(retry.Config{Name: "dependency", MaxAttempts: 3, BaseDelay: 20 * time.Millisecond, Budget: budget})
		if err != nil {
			panic(err)
		}
		t, err := timelimit.New(timelimit.Config{Name: "dependency", Timeout: 500 * time.Millisecond})
		if err != nil {
			panic(err)
		}
		return levee.New(r, b, t)
	}
	hosts := leveehttp.PerHost(newPipeline)
	// No Client.Timeout: every request takes its handler's context, which
	// leveehttp.Propagate bounds to 5s below.
	//leveevet:ignore clienttimeout requests carry the deadline Propagate sets
	client := &http.Client{Transport: leveehttp.NewTransport(leveehttp.TransportConfig{Pipeline: hosts.Pick})}

	// The server side's gates.
	rdb := redis.NewClient(&redis.Options{Addr: cfg.Redis, ContextTimeoutEnabled: true, MaxRetries: -1})
	defer rdb.Close()
	limiter, err := redislimit.New(redislimit.Config{
		Name:   "per-client",
		Client: rdb,
		Limit:  cfg.RatePerSecond,
		Period: time.Second,
		Prefix: cfg.RedisPrefix,
	})
	if err != nil {
		return err
	}
	metrics.Register(limiter)
	bulkhead, err := concurrency.NewBulkhead(concurrency.BulkheadConfig{Name: "api", MaxConcurrent: 64, MaxQueue: 64, MaxWait: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	metrics.Register(bulkhead)
	availability, err := slo.New(slo.Config{Name: "api-availability", Objective: 0.999})
	if err != nil {
		return err
	}
	if err := reg.Register(observe.NewSLOCollector(nil, availability)); err != nil {
		return err
	}
	requests := metrics.Requests("api", nil)

	api := http.NewServeMux()
	api.HandleFunc("GET /api/items", func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, cfg.Dependency+"/items", nil)
		if err != nil {
			http.Error(w, "bad dependency URL", http.StatusInternalServerError)
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			// A refusal by the dependency's breaker, a timeout, a reset:
			// say so without leaking the dependency's address.
			leveehttp.WriteRejection(w, err, true)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 500 {
			http.Error(w, "dependency failed", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.Copy(w, resp.Body)
	})

	clientIP := leveehttp.ClientIP{TrustedProxies: cfg.TrustedProxies}
	var protected http.Handler = api
	protected = leveehttp.Gate(bulkhead, leveehttp.Options{ProblemJSON: true})(protected)
	protected = leveehttp.Handler(levee.New(requests, availability), leveehttp.Options{ProblemJSON: true})(protected)
	protected = leveehttp.RateLimit(limiter, clientIP.Key, leveehttp.RateLimitOptions{
		Headers: leveehttp.RateLimitHeaders{Policy: "per-client"},
	})(protected)
	protected = leveehttp.Propagate(leveehttp.PropagateOptions{MaxTimeout: 5 * time.Second})(protected)
	protected = leveehttp.Recover(leveehttp.RecoverOptions{})(protected)

	// Probes and metrics sit outside every gate.
	h, err := health.New(health.Config{})
	if err != nil {
		return err
	}
	root := http.NewServeMux()
	h.Register(root)
	root.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	root.Handle("/", protected)

	l, err := lifecycle.New(lifecycle.Config{Name: "service", Health: h, Logger: cfg.Logger, Signals: cfg.Signals, GracePeriod: cfg.GracePeriod})
	if err != nil {
		return err
	}
	metrics.Register(l)
	ln, err := l.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := leveehttp.NewServer("", l.Middleware(root), leveehttp.ServerConfig{})
	if err := l.Add(lifecycle.HTTP(srv, ln)); err != nil {
		ln.Close()
		return err
	}
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr().String())
	}
	err = l.Run(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// startDependency serves a small JSON API on a free loopback port. It
// answers 503 while failFile exists.
func startDependency(failFile string) (url string, closeFn func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failFile != "" {
			if _, err := os.Stat(failFile); err == nil {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"items":["anchor","rope","sail"]}`)
	})}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
