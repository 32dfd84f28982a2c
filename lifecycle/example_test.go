package lifecycle_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/health"
	"github.com/levee-go/levee/lifecycle"
)

func Example() {
	h, _ := health.New(health.Config{})
	defer h.Close()
	l, err := lifecycle.New(lifecycle.Config{
		Health:     h,
		DrainDelay: 100 * time.Millisecond,
		Signals:    []os.Signal{}, // the example stops itself; a service keeps the default SIGTERM, SIGINT
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ln, _ := l.Listen("tcp", "127.0.0.1:0")
	mux := http.NewServeMux()
	h.Register(mux)
	l.Add(lifecycle.HTTP(&http.Server{Handler: mux}, ln))
	l.OnFlush("metrics", time.Second, func(context.Context) error {
		fmt.Println("flushing metrics")
		return nil
	})

	readyz := func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/readyz")
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println("GET /readyz:", resp.StatusCode)
	}
	l.OnEvent(func(e levee.Event) {
		if e.Kind != levee.EventStateChange {
			return
		}
		fmt.Printf("%s -> %s\n", e.From, e.To)
		switch e.To {
		case "running":
			go func() { readyz(); l.Stop() }()
		case "draining":
			readyz() // still serving, but no longer ready
		}
	})
	fmt.Println("Run:", l.Run(context.Background()))
	// Output:
	// starting -> running
	// GET /readyz: 200
	// running -> draining
	// GET /readyz: 500
	// draining -> stopping
	// stopping -> flushing
	// flushing metrics
	// flushing -> stopped
	// Run: <nil>
}

func ExampleNew_budget() {
	// terminationGracePeriodSeconds: 30, but the stages add up to 35 s.
	_, err := lifecycle.New(lifecycle.Config{
		GracePeriod:     30 * time.Second,
		DrainDelay:      10 * time.Second,
		ShutdownTimeout: 20 * time.Second,
	})
	fmt.Println(err)
	// Output:
	// lifecycle: Config.DrainDelay (10s) + Config.ShutdownTimeout (20s) + Config.FlushTimeout (5s) = 35s exceeds Config.GracePeriod (30s); Kubernetes would kill the process mid-shutdown
}

func ExampleLifecycle_Middleware() {
	l, _ := lifecycle.New(lifecycle.Config{})
	// For a server this Lifecycle does not own: once draining begins,
	// responses carry "Connection: close", which closes an HTTP/1
	// connection after the response and sends a GOAWAY on HTTP/2.
	handler := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	_ = handler
	fmt.Println(l.Stage())
	// Output: starting
}
