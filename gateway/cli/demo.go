package cli

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/proxy"
	"github.com/levee-go/levee/gateway/server"
	"github.com/levee-go/levee/lifecycle"
)

// demoConfig is the configuration the demo serves, with {{name}} where
// the address of the upstream of that name goes.
//
//go:embed demo.yaml
var demoConfig string

const demoUsage = `Usage: levee demo [-duration D]

Runs the gateway in front of three upstreams it starts on loopback, drives
traffic through it, and prints once a second what the gateway did:

	catalog    healthy, behind a rate limit of 30 requests a second
	payments   fails (500) from 15% to 45% of the run, then recovers;
	           its breaker opens and answers 503 at once, then closes
	search     slow: one answer in five takes longer than the route's
	           300ms timeout (504)

Everything listens on loopback only and stops when the demo ends. The
configuration is gateway/cli/demo.yaml.

Flags:
`

// minDemo is the shortest demo run: the breaker needs time to open, wait
// and close again.
const minDemo = 3 * time.Second

// demoPeriod is the failure cycle of a demo that runs until interrupted.
const demoPeriod = 20 * time.Second

// demo runs the gateway against built-in upstreams and traffic.
func demo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 20*time.Second, "how long to run; 0 runs until interrupted (Ctrl-C), the payments upstream then failing for 6s of every 20s")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), demoUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitInvalid
	}
	if fs.NArg() > 0 || *duration < 0 || *duration > 0 && *duration < minDemo {
		fmt.Fprintf(stderr, "levee demo: -duration must be 0 (until interrupted) or at least %v\n", minDemo)
		return ExitInvalid
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	period := *duration
	if period == 0 {
		period = demoPeriod
	}
	if err := runDemo(ctx, stop, period, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "levee demo: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

// runDemo starts the upstreams, the gateway and the traffic, reports
// until ctx ends, then stops them all, in that order reversed. unsignal
// restores the default signal handling once ctx ends, so that a second
// Ctrl-C stops at once.
func runDemo(ctx context.Context, unsignal func(), period time.Duration, stdout, stderr io.Writer) error {
	ups, err := startDemoUpstreams(period)
	if err != nil {
		return err
	}
	defer ups.close()
	gw, err := startDemoGateway(ups, stderr)
	if err != nil {
		return err
	}
	defer gw.stop()
	ds := demoSchedule{period}
	fmt.Fprintf(stdout, "levee demo: gateway on http://%s, admin on http://%s (try /metrics)\n", gw.public, gw.admin)
	fmt.Fprintf(stdout, "  /catalog  -> catalog, healthy, rate limit 30/s\n")
	fmt.Fprintf(stdout, "  /payments -> payments, failing from %v to %v of every %v, behind a breaker\n", ds.from(), ds.until(), period)
	fmt.Fprintf(stdout, "  /search   -> search, slow: one answer in five past the route's 300ms timeout\n\n")

	tr := startDemoTraffic("http://" + gw.public)
	rep := &demoReport{out: stdout, admin: "http://" + gw.admin, client: &http.Client{Timeout: 2 * time.Second}}
	rep.header()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	start := time.Now()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			rep.row(time.Since(start), tr.counts.take())
		}
	}
	unsignal()
	tr.stop()
	rep.add(tr.counts.take())
	rep.summary()
	return gw.stop()
}

// demoSchedule says when the payments upstream fails: from 15% to 45% of
// every period.
type demoSchedule struct{ period time.Duration }

func (s demoSchedule) from() time.Duration  { return s.period * 15 / 100 }
func (s demoSchedule) until() time.Duration { return s.period * 45 / 100 }
func (s demoSchedule) failing(elapsed time.Duration) bool {
	at := elapsed % s.period
	return at >= s.from() && at < s.until()
}

// demoUpstreams are the three loopback services behind the demo gateway.
type demoUpstreams struct {
	addrs   map[string]string // name → host:port
	servers []*http.Server
	served  sync.WaitGroup
}

func startDemoUpstreams(period time.Duration) (*demoUpstreams, error) {
	start := time.Now()
	sched := demoSchedule{period}
	var n atomic.Int64
	handlers := map[string]http.HandlerFunc{
		"catalog": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "catalog: ok\n") },
		"payments": func(w http.ResponseWriter, r *http.Request) {
			if sched.failing(time.Since(start)) {
				http.Error(w, "payments: database unreachable", http.StatusInternalServerError)
				return
			}
			io.WriteString(w, "payments: ok\n")
		},
		"search": func(w http.ResponseWriter, r *http.Request) {
			wait := time.Duration(10+rand.IntN(30)) * time.Millisecond
			if n.Add(1)%5 == 0 {
				wait = time.Second
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-t.C:
				io.WriteString(w, "search: ok\n")
			case <-r.Context().Done(): // the gateway gave up
			}
		},
	}
	u := &demoUpstreams{addrs: map[string]string{}}
	for name, h := range handlers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			u.close()
			return nil, err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		u.servers = append(u.servers, srv)
		u.addrs[name] = ln.Addr().String()
		u.served.Go(func() { _ = srv.Serve(ln) })
	}
	return u, nil
}

func (u *demoUpstreams) close() {
	for _, s := range u.servers {
		s.Close()
	}
	u.served.Wait()
}

// demoGateway is the gateway serving the demo configuration.
type demoGateway struct {
	public, admin string
	cancel        context.CancelFunc
	done          chan error
	err           error
	once          sync.Once
}

func startDemoGateway(ups *demoUpstreams, stderr io.Writer) (*demoGateway, error) {
	pairs := make([]string, 0, 2*len(ups.addrs))
	for name, addr := range ups.addrs {
		pairs = append(pairs, "{{"+name+"}}", addr)
	}
	cfg, err := config.Parse([]byte(strings.NewReplacer(pairs...).Replace(demoConfig)), config.Options{})
	if err != nil {
		return nil, fmt.Errorf("the built-in configuration: %w", err)
	}
	addrs := make(chan [2]string, 4)
	// The gateway's own log would drown the table: only errors are shown.
	log := slog.New(listening{slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}), addrs})
	ctx, cancel := context.WithCancel(context.Background())
	g := &demoGateway{cancel: cancel, done: make(chan error, 1)}
	go func() {
		g.done <- server.Run(ctx, cfg, server.Options{
			Logger:    log,
			Lifecycle: lifecycle.Config{GracePeriod: 5 * time.Second, DrainDelay: -1, Signals: []os.Signal{}},
		})
	}()
	timeout := time.After(10 * time.Second)
	for g.public == "" || g.admin == "" {
		select {
		case a := <-addrs:
			if a[0] == "public" {
				g.public = a[1]
			} else if a[0] == "admin" {
				g.admin = a[1]
			}
		case err := <-g.done:
			cancel()
			return nil, fmt.Errorf("the gateway stopped at start: %w", err)
		case <-timeout:
			g.stop()
			return nil, errors.New("the gateway did not listen within 10s")
		}
	}
	return g, nil
}

// stop stops the gateway and waits for it; it returns Run's error. Calls
// after the first return the same.
func (g *demoGateway) stop() error {
	g.once.Do(func() {
		g.cancel()
		g.err = <-g.done
	})
	return g.err
}

// listening is a slog handler that passes the "listening" records'
// listener and address to addrs, and every record to its Handler.
type listening struct {
	slog.Handler
	addrs chan<- [2]string
}

func (h listening) Enabled(context.Context, slog.Level) bool { return true }

func (h listening) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "listening" {
		var a [2]string
		r.Attrs(func(at slog.Attr) bool {
			switch at.Key {
			case "listener":
				a[0] = at.Value.String()
			case "address":
				a[1] = at.Value.String()
			}
			return true
		})
		select {
		case h.addrs <- a:
		default:
		}
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h listening) WithAttrs(as []slog.Attr) slog.Handler {
	return listening{h.Handler.WithAttrs(as), h.addrs}
}

func (h listening) WithGroup(name string) slog.Handler {
	return listening{h.Handler.WithGroup(name), h.addrs}
}

// demoCounts are the answers of one stretch of traffic.
type demoCounts struct {
	sent, ok, limited, open, upstream5xx, gateway5xx, other, failed int64
}

// demoCounters are demoCounts being counted.
type demoCounters struct {
	sent, ok, limited, open, upstream5xx, gateway5xx, other, failed atomic.Int64
}

// take returns the counts so far and starts again from zero.
func (c *demoCounters) take() demoCounts {
	return demoCounts{c.sent.Swap(0), c.ok.Swap(0), c.limited.Swap(0), c.open.Swap(0),
		c.upstream5xx.Swap(0), c.gateway5xx.Swap(0), c.other.Swap(0), c.failed.Swap(0)}
}

// count classifies one answer, or err when there was none.
func (c *demoCounters) count(resp *http.Response, err error) {
	c.sent.Add(1)
	switch {
	case err != nil:
		c.failed.Add(1)
	case resp.StatusCode < 300:
		c.ok.Add(1)
	case resp.StatusCode == http.StatusTooManyRequests:
		c.limited.Add(1)
	case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get(proxy.ReasonHeader) == proxy.ReasonBreakerOpen:
		c.open.Add(1)
	case resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout:
		c.gateway5xx.Add(1)
	case resp.StatusCode >= 500 && resp.Header.Get(proxy.ReasonHeader) == "":
		c.upstream5xx.Add(1)
	default:
		c.other.Add(1)
	}
}

// demoTraffic is a few clients, each sending a request every 25ms to the
// three routes in turn.
type demoTraffic struct {
	counts demoCounters
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

const demoClients = 6

func startDemoTraffic(base string) *demoTraffic {
	ctx, cancel := context.WithCancel(context.Background())
	t := &demoTraffic{cancel: cancel}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: demoClients}}
	paths := [...]string{"/catalog/items", "/payments/charge", "/search/q"}
	for i := range demoClients {
		t.wg.Go(func() {
			defer client.CloseIdleConnections()
			tick := time.NewTicker(25 * time.Millisecond)
			defer tick.Stop()
			for n := i; ; n++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+paths[n%len(paths)], nil)
				resp, err := client.Do(req)
				if ctx.Err() != nil { // stopped mid-request: not counted
					if err == nil {
						resp.Body.Close()
					}
					return
				}
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				t.counts.count(resp, err)
			}
		})
	}
	return t
}

func (t *demoTraffic) stop() {
	t.cancel()
	t.wg.Wait()
}

// demoReport prints the table and the summary.
type demoReport struct {
	out    io.Writer
	admin  string
	client *http.Client
	total  demoCounts
}

func (r *demoReport) header() {
	fmt.Fprintf(r.out, "%5s %6s %6s %6s %12s %13s %8s %7s  %s\n",
		"time", "sent", "2xx", "429", "503 breaker", "500 upstream", "502/504", "no ans.", "payments breaker")
}

func (r *demoReport) add(c demoCounts) {
	r.total.sent += c.sent
	r.total.ok += c.ok
	r.total.limited += c.limited
	r.total.open += c.open
	r.total.upstream5xx += c.upstream5xx
	r.total.gateway5xx += c.gateway5xx
	r.total.other += c.other
	r.total.failed += c.failed
}

func (r *demoReport) row(at time.Duration, c demoCounts) {
	r.add(c)
	state, _, _ := r.breaker()
	fmt.Fprintf(r.out, "%4ds %6d %6d %6d %12d %13d %8d %7d  %s\n",
		int(at.Round(time.Second)/time.Second), c.sent, c.ok, c.limited, c.open, c.upstream5xx, c.gateway5xx, c.failed, state)
}

func (r *demoReport) summary() {
	t := r.total
	fmt.Fprintf(r.out, "\nsummary: %d requests, %d answered: 2xx %d, 429 %d, 503 breaker %d, 500 upstream %d, 502/504 %d, other %d; no answer %d\n",
		t.sent, t.sent-t.failed, t.ok, t.limited, t.open, t.upstream5xx, t.gateway5xx, t.other, t.failed)
	state, opened, closed := r.breaker()
	fmt.Fprintf(r.out, "payments breaker: opened %s, closed %s; now %s\n", times(opened), times(closed), state)
	if t.open > 0 {
		fmt.Fprintf(r.out, "While it was open the gateway answered %d requests itself, at once, with 503 and Retry-After,\n"+
			"instead of sending them to the failing upstream.\n", t.open)
	}
}

// breaker reads the payments breaker's state and how often it opened and
// closed from the admin address's /metrics, as Prometheus would.
func (r *demoReport) breaker() (state string, opened, closed int) {
	state = "?"
	resp, err := r.client.Get(r.admin + "/metrics")
	if err != nil {
		return state, 0, 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `name="payments"`) || !strings.Contains(line, `policy="breaker"`) {
			continue
		}
		name, value, _ := strings.Cut(line, "} ")
		v, _ := strconv.ParseFloat(value, 64)
		switch {
		case strings.HasPrefix(name, "levee_policy_state{") && v == 1:
			state = labelValue(name, "state")
		case strings.HasPrefix(name, "levee_state_transitions_total{") && labelValue(name, "to") == "open":
			opened += int(v)
		case strings.HasPrefix(name, "levee_state_transitions_total{") && labelValue(name, "to") == "closed":
			closed += int(v)
		}
	}
	return state, opened, closed
}

// times says how many times: "once", "3 times".
func times(n int) string {
	if n == 1 {
		return "once"
	}
	return strconv.Itoa(n) + " times"
}

// labelValue returns the value of the label named key in a series'
// exposition text.
func labelValue(series, key string) string {
	_, rest, ok := strings.Cut(series, key+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}
