package redislimit_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/redislimit"
)

// stateReporter is observe.StateReporter, which observe.Metrics.Register
// reads; this module does not import observe, so the shape is repeated.
type stateReporter interface {
	PolicyState() (policy, name, state string)
}

var _ stateReporter = (*redislimit.Limiter)(nil)

// TestPolicyState checks that the state a Limiter reports is "redis" until
// Redis fails, then the fallback's name, and that it names the state as the
// limiter's state-change events do, so that the series exported at
// registration is the one the events move.
func TestPolicyState(t *testing.T) {
	for _, fb := range []redislimit.Fallback{redislimit.LocalShare, redislimit.FailOpen, redislimit.FailClosed} {
		t.Run(fb.String(), func(t *testing.T) {
			// Nothing listens on the port: every round trip fails at once.
			l, err := redislimit.New(redislimit.Config{Name: "api",
				Client: newClient(t, "127.0.0.1:"+strconv.Itoa(freePort(t))),
				Limit:  10, Fallback: fb, FailureThreshold: 1})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var changes []levee.Event
			defer l.OnEvent(func(e levee.Event) {
				if e.Kind == levee.EventStateChange {
					mu.Lock()
					changes = append(changes, e)
					mu.Unlock()
				}
			})()
			if p, n, s := l.PolicyState(); p != "redislimit" || n != "api" || s != "redis" {
				t.Errorf("PolicyState() before any failure = %q, %q, %q; want redislimit, api, redis", p, n, s)
			}
			if _, err := l.DecideKey(context.Background(), "k"); err != nil {
				t.Fatalf("DecideKey with Redis down = %v, want the fallback's decision", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(changes) != 1 || changes[0].From != "redis" {
				t.Fatalf("state changes = %+v, want one from redis", changes)
			}
			p, n, s := l.PolicyState()
			if e := changes[0]; p != e.Policy || n != e.Name || s != e.To || s != fb.String() {
				t.Errorf("PolicyState() on the fallback = %q, %q, %q; want the event's %q, %q, %q (%s)",
					p, n, s, e.Policy, e.Name, e.To, fb)
			}
		})
	}
}
