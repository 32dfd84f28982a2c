package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/shed"
)

// Protections are the gates the experiment compares, in table order.
var Protections = []string{"none", "static", "aimd", "vegas", "gradient2", "gradient", "shed"}

// Loads are the offered loads of the matrix, as multiples of capacity.
var Loads = []float64{0.5, 1, 2, 3, 5}

// Params describe the simulated server and the load.
type Params struct {
	Workers   int           // the server's fixed number of workers
	Mean      time.Duration // mean of the exponential service time
	Objective time.Duration // latency objective: a success slower than it is not goodput
	Timeout   time.Duration // the client gives up after this
	Warmup    time.Duration // time at 1× capacity before the step to the cell's load
	Duration  time.Duration // time at the cell's load, measured
	Seed      uint64        // seeds service times
	Sheddable float64       // share of requests sent as SHEDDABLE (the rest CRITICAL)
}

// Capacity is the server's throughput in requests per second.
func (p Params) Capacity() float64 { return float64(p.Workers) / p.Mean.Seconds() }

// Result is one cell of the matrix.
type Result struct {
	Protect         string  `json:"protect"`
	Load            float64 `json:"load"`
	OfferedRPS      float64 `json:"offered_rps"`
	CapacityRPS     float64 `json:"capacity_rps"`
	GoodputRPS      float64 `json:"goodput_rps"`
	P50ms           float64 `json:"p50_ms"`
	P99ms           float64 `json:"p99_ms"`
	UnloadedP99ms   float64 `json:"unloaded_p99_ms"`
	RejectedRatio   float64 `json:"rejected_ratio"`
	ConvergeMs      float64 `json:"converge_ms"`
	CriticalOffered float64 `json:"critical_offered_rps,omitempty"`
	CriticalGoodput float64 `json:"critical_goodput_rps,omitempty"`
}

// newGate builds the named protection for a server of the given shape.
func newGate(name string, p Params) (levee.Gate, error) {
	switch name {
	case "none":
		return nil, nil
	case "static":
		return concurrency.NewBulkhead(concurrency.BulkheadConfig{Name: name, MaxConcurrent: p.Workers})
	case "shed":
		return shed.New(shed.Config{Name: name})
	}
	var alg concurrency.Algorithm
	var err error
	switch name {
	case "aimd":
		// AIMD learns from drops only: a success slower than the objective
		// is the drop it needs.
		alg, err = concurrency.NewAIMD(concurrency.AIMDConfig{Timeout: p.Objective})
	case "vegas":
		alg, err = concurrency.NewVegas(concurrency.VegasConfig{})
	case "gradient2":
		alg, err = concurrency.NewGradient2(concurrency.Gradient2Config{})
	case "gradient":
		alg, err = concurrency.NewGradient(concurrency.GradientConfig{})
	default:
		return nil, fmt.Errorf("unknown protection %q (want one of %v)", name, Protections)
	}
	if err != nil {
		return nil, err
	}
	return concurrency.NewLimiter(concurrency.LimiterConfig{Name: name, Algorithm: alg})
}

// server is the simulated service: each request holds one of a fixed
// number of workers for the service time the client drew for it.
type server struct {
	workers chan *worker
}

// worker keeps a virtual clock: a request it serves ends at the end of its
// previous request (or now, after a pause), plus the service time. Timers
// overshoot (by a millisecond for the shortest sleeps on a busy machine);
// starting the next request from the virtual end pays the overshoot back,
// so a busy worker serves exactly 1/mean requests a second and the
// server's capacity is the stated one.
type worker struct {
	end time.Time
}

// handover is the longest gap between two requests on a worker that still
// counts as continuous work.
const handover = 2 * time.Millisecond

func newServer(n int) *server {
	s := &server{workers: make(chan *worker, n)}
	for range n {
		s.workers <- &worker{}
	}
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	us, _ := strconv.ParseInt(r.URL.Query().Get("s"), 10, 64)
	var wk *worker
	select {
	case wk = <-s.workers:
	case <-r.Context().Done():
		return // the client gave up while queued
	}
	// A worker handed straight from one request to the next keeps its
	// virtual clock; the scheduling delay of the handover is not idleness.
	if now := time.Now(); now.Sub(wk.end) > handover {
		wk.end = now
	}
	wk.end = wk.end.Add(time.Duration(us) * time.Microsecond)
	time.Sleep(time.Until(wk.end)) // the work is done even if the client has gone
	s.workers <- wk
	w.WriteHeader(http.StatusOK)
}

// sample is one request as the client saw it.
type sample struct {
	at       time.Duration // intended send time, from the start of the run
	latency  time.Duration // from the intended send time (no coordinated omission)
	status   int           // 0 when the client gave up or failed
	critical bool
}

// Run runs one cell: warm-up at 1× capacity, then the step to load× for
// the measured duration. unloadedP99 is reported as given.
func Run(ctx context.Context, protect string, load float64, p Params, unloadedP99 time.Duration) (Result, error) {
	samples, err := drive(ctx, protect, p, []phase{{1, p.Warmup}, {load, p.Duration}})
	if err != nil {
		return Result{}, err
	}
	return summarise(protect, load, p, samples, unloadedP99), nil
}

// Unloaded measures the p99 latency of the unprotected server at a
// quarter of its capacity, where requests almost never queue.
func Unloaded(ctx context.Context, p Params, d time.Duration) (time.Duration, error) {
	q := p
	q.Sheddable = 0
	samples, err := drive(ctx, "none", q, []phase{{0.25, d}})
	if err != nil {
		return 0, err
	}
	var lat []time.Duration
	for _, s := range samples {
		if s.status == http.StatusOK {
			lat = append(lat, s.latency)
		}
	}
	slices.Sort(lat)
	return pct(lat, 0.99), nil
}

type phase struct {
	load float64
	d    time.Duration
}

// drive starts a server behind the protection and sends requests open
// loop: at a fixed rate per phase, whatever the answers.
func drive(ctx context.Context, protect string, p Params, phases []phase) ([]sample, error) {
	gate, err := newGate(protect, p)
	if err != nil {
		return nil, err
	}
	var h http.Handler = newServer(p.Workers)
	if gate != nil {
		h = leveehttp.Gate(gate, leveehttp.Options{})(h)
	}
	h = leveehttp.Propagate(leveehttp.PropagateOptions{})(h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	tr := &http.Transport{MaxIdleConns: 8192, MaxIdleConnsPerHost: 8192, IdleConnTimeout: 30 * time.Second, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	base := "http://" + ln.Addr().String() + "/?s="

	// Arrival times and service times, fixed by the seed.
	rng := rand.New(rand.NewPCG(p.Seed, 0x6c65766565))
	type req struct {
		at   time.Duration
		svc  time.Duration
		crit bool
	}
	var reqs []req
	var off time.Duration
	for _, ph := range phases {
		rate := ph.load * p.Capacity()
		n := int(rate * ph.d.Seconds())
		for i := range n {
			reqs = append(reqs, req{
				at:   off + time.Duration(float64(i)/rate*float64(time.Second)),
				svc:  time.Duration(rng.ExpFloat64() * float64(p.Mean)),
				crit: rng.Float64() >= p.Sheddable,
			})
		}
		off += ph.d
	}
	out := make([]sample, len(reqs))
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < len(reqs); {
		if ctx.Err() != nil {
			break
		}
		now := time.Since(start)
		for ; i < len(reqs) && reqs[i].at <= now; i++ {
			r := reqs[i]
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				out[i] = send(ctx, client, base, r.svc, r.crit, start.Add(r.at), p.Timeout)
				out[i].at, out[i].critical = r.at, r.crit
			}(i)
		}
		if i < len(reqs) {
			time.Sleep(min(reqs[i].at-time.Since(start), time.Millisecond))
		}
	}
	wg.Wait()
	return out, ctx.Err()
}

func send(ctx context.Context, c *http.Client, base string, svc time.Duration, crit bool, intended time.Time, timeout time.Duration) sample {
	ctx, cancel := context.WithDeadline(ctx, intended.Add(timeout))
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+strconv.FormatInt(svc.Microseconds(), 10), nil)
	c1 := levee.Critical
	if !crit {
		c1 = levee.Sheddable
	}
	req.Header.Set(leveehttp.HeaderCriticality, c1.String())
	resp, err := c.Do(req)
	lat := time.Since(intended)
	if err != nil {
		return sample{latency: min(lat, timeout)}
	}
	resp.Body.Close()
	return sample{latency: lat, status: resp.StatusCode}
}

// summarise turns the samples after the warm-up into a result.
func summarise(protect string, load float64, p Params, all []sample, unloadedP99 time.Duration) Result {
	res := Result{Protect: protect, Load: load, CapacityRPS: p.Capacity(), UnloadedP99ms: ms(unloadedP99)}
	secs := p.Duration.Seconds()
	var admitted []time.Duration
	var sent, rejected, good, critSent, critGood int
	const bucket = 200 * time.Millisecond
	nb := int((p.Duration + bucket - 1) / bucket)
	bLat := make([][]time.Duration, nb)
	bGood := make([]int, nb)
	bSent := make([]int, nb)
	for _, s := range all {
		if s.at < p.Warmup {
			continue
		}
		sent++
		b := min(int((s.at-p.Warmup)/bucket), nb-1)
		bSent[b]++
		if s.critical {
			critSent++
		}
		if s.status == http.StatusServiceUnavailable || s.status == http.StatusTooManyRequests {
			rejected++
			continue
		}
		admitted = append(admitted, s.latency)
		bLat[b] = append(bLat[b], s.latency)
		if s.status == http.StatusOK && s.latency <= p.Objective {
			good++
			bGood[b]++
			if s.critical {
				critGood++
			}
		}
	}
	slices.Sort(admitted)
	res.OfferedRPS = float64(sent) / secs
	res.GoodputRPS = float64(good) / secs
	res.P50ms, res.P99ms = ms(pct(admitted, 0.5)), ms(pct(admitted, 0.99))
	if sent > 0 {
		res.RejectedRatio = float64(rejected) / float64(sent)
	}
	if p.Sheddable > 0 {
		res.CriticalOffered, res.CriticalGoodput = float64(critSent)/secs, float64(critGood)/secs
	}
	// Converged: from the first bucket after which (nearly) every bucket
	// keeps admitted p99 within the objective and goodput near what the
	// server can give.
	settled := make([]bool, nb)
	perBucket := min(load, 1) * p.Capacity() * bucket.Seconds()
	for b := range nb {
		slices.Sort(bLat[b])
		settled[b] = bSent[b] > 0 && pct(bLat[b], 0.99) <= p.Objective && float64(bGood[b]) >= 0.8*perBucket
	}
	res.ConvergeMs = -1
	for b := range nb {
		if !settled[b] {
			continue
		}
		bad := 0
		for _, ok := range settled[b:] {
			if !ok {
				bad++
			}
		}
		if float64(bad) <= 0.1*float64(nb-b) {
			res.ConvergeMs = ms(time.Duration(b) * bucket)
			break
		}
	}
	return res
}

func pct(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }
