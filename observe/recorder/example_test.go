package recorder_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/observe/recorder"
)

// A recorder attached to a breaker writes a snapshot when it trips; the
// admin listener serves the snapshots.
func Example() {
	dir, _ := os.MkdirTemp("", "snapshots")
	defer os.RemoveAll(dir)

	written := make(chan recorder.Manifest, 1)
	rec, err := recorder.New(recorder.Config{
		Dir:        dir,
		Window:     10 * time.Second, // trace the last 10s at least
		Interval:   time.Minute,      // at most one snapshot a minute
		Logger:     slog.New(slog.DiscardHandler),
		OnSnapshot: func(m recorder.Manifest) { written <- m },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rec.Close()

	b, _ := breaker.New(breaker.Config{Name: "db", ConsecutiveFailures: 2})
	b.OnEvent(rec.Listener())

	admin := http.NewServeMux()
	admin.Handle("/debug/snapshots/", http.StripPrefix("/debug/snapshots", rec.Handler()))

	for range 2 {
		p, _ := b.Allow()
		p.Done(errors.New("db down"))
	}
	m := <-written
	fmt.Println(m.Policy, m.Name, m.To, m.Reason, m.Files)
	// Output:
	// breaker db open consecutive_failures [trace.out goroutines.txt heap.pprof manifest.json]
}
