package cli

import (
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// demoPhaseKind names a phase of the demo's timeline.
type demoPhaseKind int32

const (
	phaseSteady    demoPhaseKind = iota // every upstream healthy, steady traffic
	phaseIncident                       // recommendations fails
	phaseRecovery                       // recommendations healed
	phaseFlood                          // a flood of requests on orders
	phaseCalm                           // the flood is over
	phaseBadConfig                      // a bad configuration, rolled back by the self-check
)

func (k demoPhaseKind) String() string {
	return [...]string{"steady", "incident", "recovery", "flood", "calm", "bad-config"}[k]
}

// demoPhase is one step of the timeline: what happens, for how long, and
// the line announcing it.
type demoPhase struct {
	kind   demoPhaseKind
	length time.Duration
	story  string
}

// demoTimeline is the script the demo plays, its lengths multiplied by
// scale.
type demoTimeline struct {
	scale  float64
	phases []demoPhase
}

func newDemoTimeline(scale float64) demoTimeline {
	s := func(d time.Duration) time.Duration { return time.Duration(float64(d) * scale) }
	return demoTimeline{scale: scale, phases: []demoPhase{
		{phaseSteady, s(5 * time.Second), "steady traffic; every upstream healthy"},
		{phaseIncident, s(8 * time.Second), "recommendations starts failing (500): its breaker should open and the fallback answer"},
		{phaseRecovery, s(5 * time.Second), "recommendations is healed: a probe should find it so and close the breaker"},
		{phaseFlood, s(8 * time.Second), "a flood on /orders, 2/3 SHEDDABLE: the adaptive limit should hold goodput, shedding SHEDDABLE first"},
		{phaseCalm, s(4 * time.Second), "the flood is over"},
		{phaseBadConfig, s(8 * time.Second), "a bad configuration is applied through the admin API (/catalog moves to catalog_v2, which fails): the self-check should roll it back"},
	}}
}

// length is the time the timeline takes once.
func (t demoTimeline) length() time.Duration {
	var d time.Duration
	for _, p := range t.phases {
		d += p.length
	}
	return d
}

// tick is how often a line is printed: a second, scaled, and at least
// 100ms.
func (t demoTimeline) tick() time.Duration {
	return max(100*time.Millisecond, time.Duration(float64(time.Second)*t.scale))
}

// openDuration is the breaker's open duration: 1s scaled, at least 50ms,
// so that the breaker probes several times within the recovery phase.
func (t demoTimeline) openDuration() time.Duration {
	return max(50*time.Millisecond, time.Duration(float64(time.Second)*t.scale)).Round(time.Millisecond)
}

// selfCheck is how long the self-check watches a new configuration: 6s
// scaled, at least 300ms, so that it decides within the bad-config phase.
func (t demoTimeline) selfCheck() time.Duration {
	return max(300*time.Millisecond, time.Duration(float64(6*time.Second)*t.scale)).Round(time.Millisecond)
}

// ordersCapacity is how many requests the orders upstream works on at
// once; more wait their turn, so its latency grows with the load.
const ordersCapacity = 8

// ordersWork is how long the orders upstream works on one request.
const ordersWork = 10 * time.Millisecond

// demoUpstreams are the loopback services behind the demo gateway. Their
// behaviour follows phase.
type demoUpstreams struct {
	addrs   map[string]string // name → host:port
	phase   atomic.Int32      // a demoPhaseKind
	servers []*http.Server
	served  sync.WaitGroup
}

func startDemoUpstreams(demoTimeline) (*demoUpstreams, error) {
	u := &demoUpstreams{addrs: map[string]string{}}
	var n atomic.Int64
	orders := make(chan struct{}, ordersCapacity)
	handlers := map[string]http.HandlerFunc{
		"catalog": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "catalog: ok\n") },
		"catalog_v2": func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "catalog v2: schema migration not run", http.StatusInternalServerError)
		},
		"recommendations": func(w http.ResponseWriter, r *http.Request) {
			if demoPhaseKind(u.phase.Load()) == phaseIncident {
				http.Error(w, "recommendations: model server unreachable", http.StatusInternalServerError)
				return
			}
			io.WriteString(w, `{"items": ["a", "b", "c"]}`)
		},
		"search": func(w http.ResponseWriter, r *http.Request) {
			wait := time.Duration(5+rand.IntN(20)) * time.Millisecond
			if n.Add(1)%5 == 0 {
				wait = time.Second
			}
			if sleep(r, wait) {
				io.WriteString(w, "search: ok\n")
			}
		},
		"orders": func(w http.ResponseWriter, r *http.Request) {
			select {
			case orders <- struct{}{}:
			case <-r.Context().Done(): // the gateway gave up
				return
			}
			defer func() { <-orders }()
			if sleep(r, ordersWork) {
				io.WriteString(w, "orders: ok\n")
			}
		},
	}
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

// sleep waits for d or for r to be cancelled, and reports whether d
// passed.
func sleep(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (u *demoUpstreams) close() {
	for _, s := range u.servers {
		s.Close()
	}
	u.served.Wait()
}
