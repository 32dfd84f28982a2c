package observe_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/observe"
)

// connUpstream answers every request; closing makes it close every
// connection after its answer, as a misconfigured or overloaded upstream
// does.
func connUpstream(t *testing.T, closing bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if closing {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *http.Client, url string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// reuse returns the share of connections taken from the pool, and how
// many connections requests got, as a scrape reads them.
func reuse(t *testing.T, reg *prometheus.Registry, host string) (ratio, total float64) {
	t.Helper()
	reused := seriesValue(t, reg, "levee_http_client_connections_total", map[string]string{"host": host, "reused": "true"})
	fresh := seriesValue(t, reg, "levee_http_client_connections_total", map[string]string{"host": host, "reused": "false"})
	if reused+fresh == 0 {
		return 0, 0
	}
	return reused / (reused + fresh), reused + fresh
}

func phaseCount(t *testing.T, reg *prometheus.Registry, host, phase string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "levee_http_client_phase_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["host"] == host && labels["phase"] == phase {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func TestConnMetricsReuseRatio(t *testing.T) {
	const n = 20
	for _, tt := range []struct {
		name       string
		closing    bool
		viaTrace   bool
		wantReuse  func(float64) bool
		wantDials  func(uint64) bool
		wantSpeech string
	}{
		{"keep-alive upstream via Transport events", false, false, func(r float64) bool { return r >= 0.9 }, func(d uint64) bool { return d <= 2 }, "near 1, one dial"},
		{"closing upstream via Transport events", true, false, func(r float64) bool { return r == 0 }, func(d uint64) bool { return d == n }, "0, a dial per request"},
		{"keep-alive upstream via WithTrace", false, true, func(r float64) bool { return r >= 0.9 }, func(d uint64) bool { return d <= 2 }, "near 1, one dial"},
		{"closing upstream via WithTrace", true, true, func(r float64) bool { return r == 0 }, func(d uint64) bool { return d == n }, "0, a dial per request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := connUpstream(t, tt.closing)
			host := srv.Listener.Addr().String()
			reg := prometheus.NewRegistry()
			m, err := observe.NewConnMetrics(reg, observe.ConnOptions{})
			if err != nil {
				t.Fatal(err)
			}
			base := leveehttp.NewHTTPTransport(leveehttp.HTTPTransportConfig{})
			base.DialContext = m.Dialer(host, (&net.Dialer{}).DialContext)
			defer base.CloseIdleConnections()
			var client *http.Client
			if tt.viaTrace {
				client = &http.Client{Transport: traced{m: m, host: host, next: base}}
			} else {
				client = &http.Client{Transport: leveehttp.NewTransport(leveehttp.TransportConfig{Base: base, OnEvent: m.Listener()})}
			}
			for range n {
				get(t, client, srv.URL)
			}
			ratio, total := reuse(t, reg, host)
			dials := uint64(seriesValue(t, reg, "levee_http_client_dials_total", map[string]string{"host": host, "result": "ok"}))
			if total != n || !tt.wantReuse(ratio) || !tt.wantDials(dials) {
				t.Errorf("after %d requests: %v connections, reuse ratio %.2f, %d dials; want %d connections, reuse ratio and dials %s", n, total, ratio, dials, n, tt.wantSpeech)
			}
			if got := phaseCount(t, reg, host, "connect"); got != dials {
				t.Errorf("connect phase observed %d times, want one per dial (%d)", got, dials)
			}
			if got := phaseCount(t, reg, host, "first_byte"); got != n {
				t.Errorf("first_byte phase observed %d times, want %d", got, n)
			}
			base.CloseIdleConnections()
			if open := gaugeValue(t, reg, "levee_http_client_open_connections", host); open != 0 {
				t.Errorf("levee_http_client_open_connections = %v after closing idle connections, want 0", open)
			}
		})
	}
}

// traced is a client transport that is not a leveehttp.Transport: it
// records its connections with WithTrace, as a reverse proxy would.
type traced struct {
	m    *observe.ConnMetrics
	host string
	next http.RoundTripper
}

func (t traced) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.next.RoundTrip(r.WithContext(t.m.WithTrace(r.Context(), t.host)))
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name, host string) float64 {
	return seriesValue(t, reg, name, map[string]string{"host": host})
}

func seriesValue(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
					continue metrics
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func TestConnMetricsCountsFailedDials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: dials are refused
	reg := prometheus.NewRegistry()
	m, err := observe.NewConnMetrics(reg, observe.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base := leveehttp.NewHTTPTransport(leveehttp.HTTPTransportConfig{})
	base.DialContext = m.Dialer("down", (&net.Dialer{}).DialContext)
	client := &http.Client{Transport: base}
	for range 3 {
		if resp, err := client.Get("http://" + addr); err == nil {
			resp.Body.Close()
			t.Fatal("GET to a closed port succeeded")
		}
	}
	if got := seriesValue(t, reg, "levee_http_client_dials_total", map[string]string{"host": "down", "result": "error"}); got != 3 {
		t.Errorf("levee_http_client_dials_total{result=error} = %v, want 3", got)
	}
	if got := gaugeValue(t, reg, "levee_http_client_open_connections", "down"); got != 0 {
		t.Errorf("levee_http_client_open_connections = %v, want 0", got)
	}
}
