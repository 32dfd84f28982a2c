// Command breaker shows a circuit breaker protecting a flaky dependency: a
// loopback HTTP server that is healthy, then fails for a few seconds, then
// recovers. The client calls it through a breaker and prints every state
// transition and, each second, its counts.
//
//	go run ./examples/breaker
//
// Expect the breaker to open soon after the failures start, probe the
// server with growing waits while it is down, and close once it is back.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
)

func main() {
	if _, err := run(context.Background(), os.Stdout, time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "breaker example:", err)
		os.Exit(1)
	}
}

// run plays the scenario on a time scale of unit (one second in main): the
// server is healthy for 2 units, fails for 3, and is healthy again for 3.
// It returns the states the breaker went through, in order.
func run(ctx context.Context, out io.Writer, unit time.Duration) ([]breaker.State, error) {
	start := time.Now()
	down := func() bool {
		since := time.Since(start)
		return since >= 2*unit && since < 5*unit
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down() {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/"

	b, err := breaker.New(breaker.Config{
		Name:               "flaky-api",
		WindowSize:         20, // the last 20 calls
		MinCalls:           10,
		FailureRate:        50,       // open at 50% failures
		OpenWait:           unit / 2, // then wait, doubling on each failed probe round
		OpenWaitMultiplier: 2,
		OpenWaitMax:        2 * unit,
		HalfOpenProbes:     3,
	})
	if err != nil {
		return nil, err
	}

	var mu sync.Mutex // the listener runs on the breaker's timer goroutine too
	elapsed := func() string { return fmt.Sprintf("%6.2fs", time.Since(start).Seconds()) }
	states := []breaker.State{b.State()}
	b.OnEvent(func(e levee.Event) {
		if e.Kind != levee.EventStateChange {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		states = append(states, b.State())
		switch {
		case e.To == "open":
			fmt.Fprintf(out, "%s  %s -> open: %s %.0f%% >= %.0f%%, retry in %v\n",
				elapsed(), e.From, e.Reason, e.Value, e.Threshold, e.Wait.Round(time.Millisecond))
		default:
			fmt.Fprintf(out, "%s  %s -> %s: %s\n", elapsed(), e.From, e.To, e.Reason)
		}
	})

	client := &http.Client{Timeout: unit}
	var calls, ok, failed, rejected int
	report := func() {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, "%s  state=%-9s calls=%d ok=%d failed=%d rejected=%d\n",
			elapsed(), b.State(), calls, ok, failed, rejected)
	}

	mu.Lock()
	fmt.Fprintf(out, "%s  breaker %q guards %s (healthy, down at %v, back at %v)\n",
		elapsed(), "flaky-api", url, 2*unit, 5*unit)
	mu.Unlock()
	tick := time.NewTicker(unit / 50)
	defer tick.Stop()
	nextReport, reported := unit, false
	for time.Since(start) < 8*unit {
		select {
		case <-ctx.Done():
			return states, ctx.Err()
		case <-tick.C:
		}
		calls++
		reported = false
		p, err := b.Allow()
		if err != nil {
			rejected++ // levee.RetryAfter(err) says how long to stay away
		} else {
			err = get(ctx, client, url)
			p.Done(err)
			if err != nil {
				failed++
			} else {
				ok++
			}
		}
		if time.Since(start) >= nextReport {
			report()
			reported = true
			nextReport += unit
		}
	}
	if !reported {
		report()
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]breaker.State(nil), states...), nil
}

var errStatus = errors.New("server error")

// get calls the server; a 5xx status is an error, as the dependency failed.
func get(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("%w: %s", errStatus, resp.Status)
	}
	return nil
}
