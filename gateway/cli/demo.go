package cli

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/server"
	"github.com/levee-go/levee/lifecycle"
)

// demoConfig is the configuration the demo serves, with {{name}} where
// the address of the upstream of that name goes.
//
//go:embed demo.yaml
var demoConfig string

const demoUsage = `Usage: levee demo [-duration D] [-scale F]

Runs the gateway in front of four upstreams it starts on loopback, drives
traffic through it along a scripted timeline, and prints what the gateway
did, one line per tick:

	catalog          healthy, behind a rate limit of 200 requests a second
	recommendations  flaky: fails (500) during the incident; its breaker
	                 opens and the route's fallback answers, then a probe
	                 finds it healed and the breaker closes
	search           slow: one answer in five takes longer than the
	                 route's 300ms timeout (504)
	orders           overloaded by a flood: it works on 8 requests at a
	                 time; the adaptive concurrency limit holds its goodput
	                 and SHEDDABLE requests are shed before CRITICAL ones

The timeline (at -scale 1): steady 5s, incident 8s, recovery 5s, flood
8s, calm 4s, bad config 8s: a configuration that sends /catalog to a
failing new version is applied through the admin API, and the reload's
self-check rolls it back. The dashboard's address is printed first.

Everything listens on loopback only, the load is bounded (a fixed number
of clients), and everything stops when the demo ends. The configuration
is gateway/cli/demo.yaml.

Flags:
`

// Limits of the demo's flags.
const (
	minScale = 0.05
	maxScale = 10
)

// demo runs the gateway against built-in upstreams and traffic.
func demo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 0, "how long to run; 0 (the default) runs the timeline once, and a duration longer than the timeline repeats it. Ctrl-C stops at any time")
	forever := fs.Bool("forever", false, "repeat the timeline until interrupted (Ctrl-C)")
	scale := fs.Float64("scale", 1, fmt.Sprintf("multiply every phase's length (and the breaker's open duration) by this factor, from %v to %v", minScale, maxScale))
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
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "levee demo: unexpected argument %q\n", fs.Arg(0))
		return ExitInvalid
	case *scale < minScale || *scale > maxScale:
		fmt.Fprintf(stderr, "levee demo: -scale must be from %v to %v, not %v\n", minScale, maxScale, *scale)
		return ExitInvalid
	case *duration < 0 || *duration > 0 && *duration < time.Second:
		fmt.Fprintf(stderr, "levee demo: -duration must be 0 (the timeline once) or at least 1s, not %v\n", *duration)
		return ExitInvalid
	case *forever && *duration > 0:
		fmt.Fprintln(stderr, "levee demo: -forever and -duration exclude each other")
		return ExitInvalid
	}
	tl := newDemoTimeline(*scale)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch {
	case *duration > 0:
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	once := *duration == 0 && !*forever
	if _, err := runDemo(ctx, stop, tl, once, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "levee demo: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

// runDemo starts the upstreams, the gateway and the traffic, follows the
// timeline until ctx ends (or, when once, to its end), then stops them
// all, in that order reversed, and returns what each phase saw. unsignal
// restores the default signal handling once the timeline is over, so that
// a second Ctrl-C stops at once.
func runDemo(ctx context.Context, unsignal func(), tl demoTimeline, once bool, stdout, stderr io.Writer) ([]demoPhaseStats, error) {
	ups, err := startDemoUpstreams(tl)
	if err != nil {
		return nil, err
	}
	defer ups.close()
	gw, err := startDemoGateway(ups, tl, stderr)
	if err != nil {
		return nil, err
	}
	defer gw.stop()
	fmt.Fprintf(stdout, "levee demo: dashboard on http://%s/dashboard/\n", gw.admin)
	fmt.Fprintf(stdout, "gateway on http://%s, admin on http://%s (try /metrics)\n", gw.public, gw.admin)
	fmt.Fprint(stdout, `  /catalog          -> catalog, healthy, rate limit 200/s
  /recommendations  -> recommendations, flaky, behind a breaker, with a fallback
  /search           -> search, slow: one answer in five past the route's 300ms timeout
  /orders           -> orders, overloaded by the flood: adaptive limit, shedding by criticality
`)
	fmt.Fprintf(stdout, "timeline (%v): steady → incident → recovery → flood → calm → bad config\n", tl.length().Round(10*time.Millisecond))
	rep := newDemoReport(stdout, "http://"+gw.admin)
	tr := startDemoTraffic("http://" + gw.public)
	stats := follow(ctx, tl, once, ups, tr, rep, gw)
	unsignal()
	tr.stop()
	rep.summary(stats)
	return stats, gw.stop()
}

// follow plays the timeline (again and again unless once) until ctx
// ends: it moves the upstreams and the traffic from phase to phase and
// prints a line per tick. Phases end at fixed times from the start, so
// that slow ticks do not stretch the timeline.
func follow(ctx context.Context, tl demoTimeline, once bool, ups *demoUpstreams, tr *demoTraffic, rep *demoReport, gw *demoGateway) []demoPhaseStats {
	tick := time.NewTicker(tl.tick())
	defer tick.Stop()
	start := time.Now()
	deadline := start
	var stats []demoPhaseStats
	for i := 0; !once || i < len(tl.phases); i++ {
		ph := tl.phases[i%len(tl.phases)]
		deadline = deadline.Add(ph.length)
		ups.phase.Store(int32(ph.kind))
		tr.enter(ph.kind)
		cur := rep.begin(ph)
		if ph.kind == phaseBadConfig {
			rep.note(cur, gw.applyBad())
		}
		end := time.NewTimer(time.Until(deadline))
		done := false
		for !done {
			select {
			case <-ctx.Done():
				done = true
			case <-end.C:
				done = true
			case <-tick.C:
				rep.row(cur, time.Since(start), tr.counts.take())
			}
		}
		end.Stop()
		tr.leave(ph.kind) // the flood's last answers count for the flood
		if ph.kind == phaseBadConfig {
			cur.rolledBack, cur.reload = gw.reloadOutcome()
			rep.note(cur, cur.reload)
		}
		stats = append(stats, rep.end(cur, tr.counts.take()))
		if ctx.Err() != nil {
			break
		}
	}
	return stats
}

// demoGateway is the gateway serving the demo configuration.
type demoGateway struct {
	public, admin string
	doc           string // the configuration it started with
	cancel        context.CancelFunc
	done          chan error
	err           error
	once          sync.Once
}

// demoYAML is the demo's configuration with the upstreams' addresses and
// the scaled durations filled in.
func demoYAML(ups *demoUpstreams, tl demoTimeline) string {
	pairs := []string{"{{open_duration}}", tl.openDuration().String(), "{{self_check}}", tl.selfCheck().String()}
	for name, addr := range ups.addrs {
		pairs = append(pairs, "{{"+name+"}}", addr)
	}
	return strings.NewReplacer(pairs...).Replace(demoConfig)
}

func startDemoGateway(ups *demoUpstreams, tl demoTimeline, stderr io.Writer) (*demoGateway, error) {
	doc := demoYAML(ups, tl)
	cfg, err := config.Parse([]byte(doc), config.Options{})
	if err != nil {
		return nil, fmt.Errorf("the built-in configuration: %w", err)
	}
	addrs := make(chan [2]string, 4)
	// The gateway's own log would drown the table: only errors are shown.
	log := slog.New(listening{slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}), addrs})
	ctx, cancel := context.WithCancel(context.Background())
	g := &demoGateway{cancel: cancel, done: make(chan error, 1), doc: doc}
	go func() {
		g.done <- server.Run(ctx, cfg, server.Options{
			Raw:       []byte(doc), // the version a rollback returns to
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
