package dashboard

import (
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/levee-go/levee/clock"
)

// Source reports what the dashboard shows. [ProxySource] reads a running
// gateway; anything else that fills a [Snapshot] will do.
type Source interface {
	// Snapshot returns the state at now. The dashboard calls it from one
	// goroutine at a time: once per interval while at least one viewer
	// is connected, and once when the first viewer connects. Rates are
	// over the time since the previous call.
	Snapshot(now time.Time) Snapshot
}

// SourceFunc adapts a function to [Source].
type SourceFunc func(now time.Time) Snapshot

// Snapshot calls f(now).
func (f SourceFunc) Snapshot(now time.Time) Snapshot { return f(now) }

// Caps bound the size of every event: lists longer than a cap are cut
// (the first entries are kept, in the Source's order; transitions keep
// the latest) and named in [Snapshot.Truncated]. An update that still
// encodes to more than Bytes is cut again with every cap halved, until it
// fits, and "bytes" is added to Truncated. The first event of a stream
// adds the chart points: at most Options.Points points of Charted routes
// and Charted SLOs. Zero means the default of each field; negative is
// refused.
type Caps struct {
	// Bytes caps the encoded size of an update event. Zero means 256 KiB.
	Bytes int
	// Charted caps the routes, and the SLOs, drawn in the charts. Zero
	// means 8.
	Charted int
	// Routes caps Snapshot.Routes, Limits, Overload. Zero means 50.
	Routes int
	// Upstreams caps Snapshot.Upstreams. Zero means 30.
	Upstreams int
	// Targets caps the targets of each upstream. Zero means 10.
	Targets int
	// Transitions caps the transitions of each breaker. Zero means 10.
	Transitions int
	// Counts caps each list of counts (refusals, top keys, shedding by
	// criticality). Zero means 10.
	Counts int
	// SLOs caps Snapshot.SLOs. Zero means 20.
	SLOs int
	// History caps the configuration versions listed. Zero means 10.
	History int
}

// Options configure [New].
type Options struct {
	// Source is what the dashboard shows. Required.
	Source Source
	// Clock paces the updates. Nil means [clock.Real].
	Clock clock.Clock
	// Interval is the time between two updates. Zero means one second;
	// negative is refused.
	Interval time.Duration
	// Retry is the reconnection delay the stream asks browsers for (the
	// EventSource "retry" field). Zero means two seconds; negative is
	// refused.
	Retry time.Duration
	// Points is how many past updates the first event of a stream carries,
	// so that charts start filled. Zero means 120 (two minutes at the
	// default interval); negative means none.
	Points int
	// Caps bound the lists of each event.
	Caps Caps
}

// Dashboard serves the live dashboard: the page and its assets, embedded
// in the binary ([Dashboard.Handler]), and the Server-Sent Events stream
// that feeds it ([Dashboard.Events]). Both are meant to be mounted by the
// admin API behind its authentication, at /dashboard/ and
// /api/v1/events. The page calls the admin API's action endpoints itself.
//
// One sampler runs while at least one viewer is connected: each interval
// it takes one [Snapshot] from the Source, encodes it once and hands the
// same bytes to every viewer, so a viewer costs a write per interval. A
// slow viewer skips updates rather than holding the others back.
type Dashboard struct {
	src      Source
	clk      clock.Clock
	interval time.Duration
	retry    time.Duration
	points   int
	caps     Caps
	assets   http.Handler

	mu      sync.Mutex
	viewers map[chan []byte]struct{}
	stop    chan struct{} // closes the sampler; nil when none runs
	closed  chan struct{} // closed by Close
	latest  *Snapshot     // the last sample; nil before the first
	history []Point       // the last points, oldest first
	seq     uint64        // event id of the last sample
}

//go:embed assets/index.html assets/app.css assets/app.js assets/favicon.svg
var assets embed.FS

// New makes a dashboard over opts.Source.
func New(opts Options) (*Dashboard, error) {
	if opts.Source == nil {
		return nil, errors.New("dashboard: Options.Source is nil")
	}
	if opts.Interval < 0 {
		return nil, errors.New("dashboard: Options.Interval " + opts.Interval.String() + " is negative")
	}
	if opts.Retry < 0 {
		return nil, errors.New("dashboard: Options.Retry " + opts.Retry.String() + " is negative")
	}
	caps, err := opts.Caps.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &Dashboard{src: opts.Source, clk: clock.Or(opts.Clock), interval: opts.Interval, retry: opts.Retry,
		points: opts.Points, caps: caps, viewers: map[chan []byte]struct{}{}, closed: make(chan struct{})}
	if d.interval == 0 {
		d.interval = time.Second
	}
	if d.retry == 0 {
		d.retry = 2 * time.Second
	}
	switch {
	case d.points == 0:
		d.points = 120
	case d.points < 0:
		d.points = 0
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	d.assets = http.StripPrefix("/dashboard", http.FileServerFS(sub))
	return d, nil
}

func (c Caps) withDefaults() (Caps, error) {
	fields := []struct {
		name string
		v    *int
		def  int
	}{{"Bytes", &c.Bytes, 256 << 10}, {"Charted", &c.Charted, 8}, {"Routes", &c.Routes, 50}, {"Upstreams", &c.Upstreams, 30}, {"Targets", &c.Targets, 10},
		{"Transitions", &c.Transitions, 10}, {"Counts", &c.Counts, 10}, {"SLOs", &c.SLOs, 20}, {"History", &c.History, 10}}
	for _, f := range fields {
		switch {
		case *f.v < 0:
			return c, errors.New("dashboard: Options.Caps." + f.name + " " + strconv.Itoa(*f.v) + " is negative")
		case *f.v == 0:
			*f.v = f.def
		}
	}
	return c, nil
}

// Handler serves the page and its assets under /dashboard/ (and
// redirects /dashboard there). The page loads nothing from elsewhere: its
// Content-Security-Policy allows only the admin listener's own origin.
func (d *Dashboard) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "dashboard: method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/dashboard" {
			http.Redirect(w, r, "/dashboard/", http.StatusMovedPermanently)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		d.assets.ServeHTTP(w, r)
	})
}

// Events serves the Server-Sent Events stream, for GET /api/v1/events.
// The first event, "snapshot", carries the current [Snapshot] and the last
// points for the charts ([Stream]); then one "update" event per interval
// carries a Snapshot. The stream asks the browser to reconnect after
// Options.Retry when it breaks; a reconnected viewer starts again with a
// snapshot.
func (d *Dashboard) Events() http.Handler { return http.HandlerFunc(d.serveEvents) }

// Stream is the data of the first event of a stream.
type Stream struct {
	// Interval is the time between updates, in seconds.
	Interval float64 `json:"interval"`
	// Charted is how many routes, and SLOs, the charts draw: the first
	// ones of the state.
	Charted int `json:"charted"`
	// History are the points of the last updates, oldest first.
	History []Point `json:"history"`
	// State is the current state.
	State *Snapshot `json:"state"`
}

// Point is the charted figures of one update: per charted route its
// requests per second, error rate, p50 and p99 (as in [Route]), and per
// charted SLO its burn rate over the shortest window.
type Point struct {
	Time   time.Time             `json:"time"`
	Routes map[string][4]float64 `json:"routes"`
	SLOs   map[string]float64    `json:"slos,omitempty"`
}

func pointOf(s *Snapshot, charted int) Point {
	routes := s.Routes[:min(len(s.Routes), charted)]
	p := Point{Time: s.Time, Routes: make(map[string][4]float64, len(routes))}
	for _, r := range routes {
		p.Routes[r.Name] = [4]float64{r.RequestsPerSecond, r.ErrorRate, r.P50, r.P99}
	}
	for _, o := range s.SLOs[:min(len(s.SLOs), charted)] {
		if len(o.Burn) > 0 {
			if p.SLOs == nil {
				p.SLOs = map[string]float64{}
			}
			p.SLOs[o.Name] = o.Burn[0].Rate
		}
	}
	return p
}

func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "dashboard: events: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ch, first, err := d.subscribe()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer d.unsubscribe(ch)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // a buffering proxy in front would hold events back
	rc := http.NewResponseController(w)
	// A stream outlives the server's WriteTimeout, which is meant for
	// ordinary answers; a writer that cannot lift it keeps its timeout.
	_ = rc.SetWriteDeadline(time.Time{})
	if _, err := w.Write(first); err != nil || rc.Flush() != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-d.closed:
			return
		case b := <-ch:
			if _, err := w.Write(b); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// ErrClosed is returned for a stream asked of a closed Dashboard.
var ErrClosed = errors.New("dashboard: closed")

// subscribe registers a viewer and returns its channel and its first
// event, starting the sampler if none runs.
func (d *Dashboard) subscribe() (chan []byte, []byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.closed:
		return nil, nil, ErrClosed
	default:
	}
	if d.stop == nil {
		d.sampleLocked() // fresh figures for the first viewer
		d.stop = make(chan struct{})
		go d.run(d.stop)
	}
	ch := make(chan []byte, 1)
	d.viewers[ch] = struct{}{}
	first, err := json.Marshal(Stream{Interval: d.interval.Seconds(), Charted: d.caps.Charted, History: d.history, State: d.latest})
	if err != nil {
		delete(d.viewers, ch)
		return nil, nil, err
	}
	return ch, frame(nil, "snapshot", d.seq, d.retry, first), nil
}

func (d *Dashboard) unsubscribe(ch chan []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.viewers, ch)
	if len(d.viewers) == 0 && d.stop != nil {
		close(d.stop)
		d.stop = nil
	}
}

// run samples once per interval until stop closes.
func (d *Dashboard) run(stop chan struct{}) {
	t := d.clk.NewTimer(d.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C():
		}
		d.mu.Lock()
		select {
		case <-stop: // the last viewer left while the timer fired
			d.mu.Unlock()
			return
		default:
		}
		b := d.sampleLocked()
		for ch := range d.viewers {
			offer(ch, b)
		}
		d.mu.Unlock()
		t.Reset(d.interval)
	}
}

// offer puts b in ch, replacing an update the viewer has not taken yet.
func offer(ch chan []byte, b []byte) {
	for {
		select {
		case ch <- b:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// sampleLocked takes a snapshot, keeps it and its point, and returns it
// encoded as an update event. A snapshot that cannot be encoded (a NaN
// from a Source) is sent as an event of kind "problem".
func (d *Dashboard) sampleLocked() []byte {
	s := d.src.Snapshot(d.clk.Now())
	d.seq++
	data, err := d.encode(&s)
	if err != nil {
		msg, _ := json.Marshal(map[string]string{"error": err.Error()})
		return frame(nil, "problem", d.seq, 0, msg)
	}
	d.latest = &s
	if d.points > 0 {
		if len(d.history) == d.points {
			copy(d.history, d.history[1:])
			d.history = d.history[:len(d.history)-1]
		}
		d.history = append(d.history, pointOf(&s, d.caps.Charted))
	}
	return frame(make([]byte, 0, len(data)+48), "update", d.seq, 0, data)
}

// frame appends one event in the text/event-stream format to b. data is
// JSON, so it holds no newline.
func frame(b []byte, event string, id uint64, retry time.Duration, data []byte) []byte {
	if retry > 0 {
		b = append(b, "retry: "...)
		b = strconv.AppendInt(b, retry.Milliseconds(), 10)
		b = append(b, '\n')
	}
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, "\nevent: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// Close ends every stream and the sampler. The asset handler keeps
// serving; a new stream is refused with 503.
func (d *Dashboard) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.closed:
		return
	default:
	}
	close(d.closed)
	if d.stop != nil {
		close(d.stop)
		d.stop = nil
	}
}
