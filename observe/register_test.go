package observe_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/lifecycle"
	"github.com/levee-go/levee/observe"
)

// custom is a policy outside Levee that reports its state.
type custom struct{ observe.Observable }

func (custom) PolicyState() (policy, name, state string) { return "queue", "jobs", "Accepting" }

// TestStateExportedAtRegistration scrapes right after registration: a
// policy that has never changed state (a healthy breaker) must be visible.
func TestStateExportedAtRegistration(t *testing.T) {
	b, err := breaker.New(breaker.Config{Name: "db"})
	if err != nil {
		t.Fatal(err)
	}
	lc, err := lifecycle.New(lifecycle.Config{Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	b2, err := breaker.New(breaker.Config{Name: "cache"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    observe.Observable
		want string
	}{
		{"breaker", b, `levee_policy_state{name="db",policy="breaker",state="closed"} 1`},
		{"lifecycle", lc, `levee_policy_state{name="api",policy="lifecycle",state="starting"} 1`},
		{"state reporter", custom{b2}, `levee_policy_state{name="jobs",policy="queue",state="accepting"} 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m, err := observe.NewMetrics(reg, observe.MetricsOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m.Register(tt.p)
			wantSeries(t, scrape(t, reg), tt.want)
		})
	}
}

// TestRegisteredStateFollowsTransitions checks that the state exported at
// registration is cleared by the first transition and that removing the
// listener stops the updates.
func TestRegisteredStateFollowsTransitions(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := observe.NewMetrics(reg, observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := breaker.New(breaker.Config{Name: "db"})
	if err != nil {
		t.Fatal(err)
	}
	remove := m.Register(b)
	b.ForceOpen()
	wantSeries(t, scrape(t, reg),
		`levee_policy_state{name="db",policy="breaker",state="closed"} 0`,
		`levee_policy_state{name="db",policy="breaker",state="forced_open"} 1`)
	remove()
	b.Reset()
	wantSeries(t, scrape(t, reg), `levee_policy_state{name="db",policy="breaker",state="forced_open"} 1`)
	m.Register(nil) // ignored
}
