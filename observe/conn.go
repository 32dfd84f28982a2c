package observe

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/prometheus/client_golang/prometheus"
)

// ConnBuckets are the default buckets of the connection phase histogram,
// in seconds: finer than [DefaultBuckets] at the low end, where a reused
// connection's first byte and a loopback dial fall.
var ConnBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// ConnMetrics keeps the health of a client's connection pools, per
// upstream host: how often a request found a pooled connection, how long
// DNS, dialing, the TLS handshake and the first response byte took, and
// how many connections are open. A pool that leaks or runs cold shows as
// a reuse ratio falling towards 0 and a dial histogram filling up:
//
//   - levee_http_client_connections_total{host, reused} counts the
//     connections requests got ("true" when taken from the pool); the reuse
//     ratio is sum(rate(…{reused="true"}[5m])) / sum(rate(…[5m]));
//   - levee_http_client_phase_seconds{host, phase} is the duration of each
//     phase: dns, connect, tls, and first_byte (from the moment the request
//     asked for a connection), and dial (DNS and connect together, timed by
//     a [ConnMetrics.Dialer]);
//   - levee_http_client_dials_total{host, result} and
//     levee_http_client_open_connections{host} count the connections a
//     [ConnMetrics.Dialer] opened and holds open; the idle ones are the open
//     ones less those in use.
//
// Feed it from a [leveehttp.Transport] with [ConnMetrics.Listener] as its
// OnEvent, or from any other client with [ConnMetrics.WithTrace] on each
// outgoing request's context; use one of the two per client. A hot path
// that cannot afford a trace per request (a reverse proxy) counts reuse
// alone with [ConnMetrics.CountReuse] and times connections with the
// Dialer. The host label is the request's host, or the name
// the caller gives: the set of hosts a client talks to must be bounded.
type ConnMetrics struct {
	conns  *prometheus.CounterVec
	phases *prometheus.HistogramVec
	dials  *prometheus.CounterVec
	open   *prometheus.GaugeVec
	clk    clock.Clock
	reuse  sync.Map // host → *httptrace.ClientTrace shared by CountReuse
}

// ConnOptions tune [NewConnMetrics]. The zero value works.
type ConnOptions struct {
	// Buckets are the phase histogram's upper bounds in seconds. Nil means
	// [ConnBuckets].
	Buckets []float64
	// ConstLabels are added to every metric.
	ConstLabels prometheus.Labels
	// Clock times the phases measured by [ConnMetrics.WithTrace]. Nil means
	// the real clock.
	Clock clock.Clock
}

// NewConnMetrics creates the collectors and registers them with reg (nil
// means prometheus.DefaultRegisterer). It fails when a collector of the
// same name is already registered.
func NewConnMetrics(reg prometheus.Registerer, opts ConnOptions) (*ConnMetrics, error) {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	buckets := opts.Buckets
	if buckets == nil {
		buckets = ConnBuckets
	}
	cl := opts.ConstLabels
	m := &ConnMetrics{
		conns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "levee_http_client_connections_total",
			Help:        "Connections client requests got, by upstream host and whether the connection was reused from the pool.",
			ConstLabels: cl}, []string{"host", "reused"}),
		phases: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "levee_http_client_phase_seconds",
			Help:    "Duration of the phases of client requests (dns, connect, tls, first_byte), by upstream host.",
			Buckets: buckets, ConstLabels: cl}, []string{"host", "phase"}),
		dials: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "levee_http_client_dials_total",
			Help:        "Connections dialed, by upstream host and result (ok, error).",
			ConstLabels: cl}, []string{"host", "result"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "levee_http_client_open_connections",
			Help:        "Connections open to an upstream host, in use or idle in the pool.",
			ConstLabels: cl}, []string{"host"}),
		clk: clock.Or(opts.Clock),
	}
	for _, c := range []prometheus.Collector{m.conns, m.phases, m.dials, m.open} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Listener returns the listener for [leveehttp.TransportConfig.OnEvent]:
// it turns the transport's connection events (Policy "http", Name the
// host) into the metrics. Other events are ignored.
func (m *ConnMetrics) Listener() levee.Listener { return m.event }

func (m *ConnMetrics) event(e levee.Event) {
	if m == nil || m.conns == nil || e.Kind != levee.EventInfo || e.Policy != "http" {
		return
	}
	switch e.Reason {
	case "conn":
		m.conns.WithLabelValues(e.Name, reusedLabel(e.Value == 1)).Inc()
	case "dns", "connect", "tls", "first_byte":
		m.phases.WithLabelValues(e.Name, e.Reason).Observe(e.Wait.Seconds())
	}
}

func reusedLabel(reused bool) string {
	if reused {
		return "true"
	}
	return "false"
}

// WithTrace returns ctx with an httptrace.ClientTrace that records the
// connection metrics of the request sent with it under the label host.
// Use it on each outgoing request of a client that is not a leveehttp
// Transport. It costs about a dozen small allocations per request; a hot
// path that needs only the reuse ratio uses [ConnMetrics.CountReuse].
func (m *ConnMetrics) WithTrace(ctx context.Context, host string) context.Context {
	if m == nil || m.conns == nil {
		return ctx
	}
	t := &connTrace{m: m, host: host, start: m.clk.Nanotime()}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		DNSStart:             t.dnsStart,
		DNSDone:              t.dnsDone,
		ConnectStart:         t.connectStart,
		ConnectDone:          t.connectDone,
		TLSHandshakeStart:    t.tlsStart,
		TLSHandshakeDone:     t.tlsDone,
		GotConn:              t.gotConn,
		GotFirstResponseByte: t.firstByte,
	})
}

// connTrace holds the start times of one request's phases; its methods
// are the ClientTrace's hooks. Each hook is a method value bound to the
// request's connTrace, so a trace costs about a dozen small allocations:
// [ConnMetrics.CountReuse] is the cheap alternative for hot paths.
type connTrace struct {
	m                               *ConnMetrics
	host                            string
	start, dns, connect, tlsStarted int64
}

func (t *connTrace) since(from int64) float64 {
	return time.Duration(t.m.clk.Nanotime() - from).Seconds()
}
func (t *connTrace) dnsStart(httptrace.DNSStartInfo) { t.dns = t.m.clk.Nanotime() }
func (t *connTrace) dnsDone(httptrace.DNSDoneInfo) {
	t.m.phases.WithLabelValues(t.host, "dns").Observe(t.since(t.dns))
}
func (t *connTrace) connectStart(string, string) { t.connect = t.m.clk.Nanotime() }
func (t *connTrace) connectDone(string, string, error) {
	t.m.phases.WithLabelValues(t.host, "connect").Observe(t.since(t.connect))
}
func (t *connTrace) tlsStart() { t.tlsStarted = t.m.clk.Nanotime() }
func (t *connTrace) tlsDone(tls.ConnectionState, error) {
	t.m.phases.WithLabelValues(t.host, "tls").Observe(t.since(t.tlsStarted))
}
func (t *connTrace) gotConn(info httptrace.GotConnInfo) {
	t.m.conns.WithLabelValues(t.host, reusedLabel(info.Reused)).Inc()
}
func (t *connTrace) firstByte() {
	t.m.phases.WithLabelValues(t.host, "first_byte").Observe(t.since(t.start))
}

// CountReuse returns ctx with a trace that counts, under the label host,
// whether the request sent with it got a pooled connection
// (levee_http_client_connections_total) and nothing else. The trace is
// shared by every request to host, so it costs one small allocation per
// request, where [ConnMetrics.WithTrace] costs a dozen; pair it with a
// [ConnMetrics.Dialer] for the dials' timing.
func (m *ConnMetrics) CountReuse(ctx context.Context, host string) context.Context {
	if m == nil || m.conns == nil {
		return ctx
	}
	t, ok := m.reuse.Load(host)
	if !ok {
		reused, fresh := m.conns.WithLabelValues(host, "true"), m.conns.WithLabelValues(host, "false")
		t, _ = m.reuse.LoadOrStore(host, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
			if info.Reused {
				reused.Inc()
			} else {
				fresh.Inc()
			}
		}})
	}
	trace := t.(*httptrace.ClientTrace)
	if httptrace.ContextClientTrace(ctx) != nil {
		// WithClientTrace composes a new trace with the one in ctx by
		// changing the new one: a shared trace must not be changed.
		c := *trace
		trace = &c
	}
	return httptrace.WithClientTrace(ctx, trace)
}

// DialFunc is the shape of net.Dialer.DialContext and
// http.Transport.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Dialer wraps dial so that the connections it opens are counted under
// the label host: levee_http_client_dials_total by result, each dial's
// duration (DNS included) as the phase "dial", and
// levee_http_client_open_connections until each is closed. Set it as the
// http.Transport's DialContext.
func (m *ConnMetrics) Dialer(host string, dial DialFunc) DialFunc {
	if m == nil || m.conns == nil {
		return dial
	}
	ok, failed := m.dials.WithLabelValues(host, "ok"), m.dials.WithLabelValues(host, "error")
	open := m.open.WithLabelValues(host)
	took := m.phases.WithLabelValues(host, "dial")
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		start := m.clk.Nanotime()
		c, err := dial(ctx, network, addr)
		took.Observe(time.Duration(m.clk.Nanotime() - start).Seconds())
		if err != nil {
			failed.Inc()
			return nil, err
		}
		ok.Inc()
		open.Inc()
		return &countedConn{Conn: c, open: open}, nil
	}
}

// countedConn lowers the open gauge once, on its first Close.
type countedConn struct {
	net.Conn
	open prometheus.Gauge
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(c.open.Dec)
	return c.Conn.Close()
}
