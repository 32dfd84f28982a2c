package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/levee-go/levee/gateway/config"
)

// responseSink is an http.ResponseWriter that keeps nothing, so that a
// benchmark of the gateway's own answers measures the gateway alone.
type responseSink struct{ h http.Header }

func (s *responseSink) Header() http.Header         { return s.h }
func (s *responseSink) Write(b []byte) (int, error) { return len(b), nil }
func (s *responseSink) WriteHeader(int)             {}

// BenchmarkRefusal compares, in one run, the cost of the gateway's own
// answers with no network in the way: a 404 for a request no route takes
// (the cheapest answer, the baseline), and the admission policies'
// refusals — 429 from a drained rate limit (keyed by client IP), 503 from
// the in-flight shedder and 503 from a full per-key bulkhead. The ratios
// to the 404 are the admission path's cost; the 429 is the figure the
// gateway's target (at most 10µs of CPU) is about.
func BenchmarkRefusal(b *testing.B) {
	cfg, err := config.Parse([]byte(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: "127.0.0.1:1"}]}]
routes:
  - name: limited
    upstream: a
    match: {path_prefix: /limited}
    policies: {rate_limit: {rate: 1/h, key: [client_ip]}}
  - name: shed
    upstream: a
    match: {path_prefix: /shed}
    policies: {shed: {max_in_flight: 1}}
  - name: full
    upstream: a
    match: {path_prefix: /full}
    policies: {concurrency: {max: 1, per_key: ["header:X-Tenant"]}}
`), config.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	// Drain and fill: the rate limit's one token is taken, and one request
	// holds the shedder and the bulkhead (their permits are never settled).
	warm := httptest.NewRequest(http.MethodGet, "/limited", nil)
	p.ServeHTTP(&responseSink{h: http.Header{}}, warm)
	for _, path := range []string{"/shed", "/full"} {
		rt := p.match(httptest.NewRequest(http.MethodGet, path, nil))
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("X-Tenant", "t1")
		r.Header.Set("X-Criticality", "SHEDDABLE")
		if _, ok := rt.admission.admit(&responseSink{h: http.Header{}}, r, &exchange{}); !ok {
			b.Fatalf("%s: the first request was refused", path)
		}
	}
	for _, bc := range []struct{ name, path string }{
		{"404_no_route", "/none"},
		{"429_rate_limited", "/limited"},
		{"503_shed", "/shed"},
		{"503_concurrency", "/full"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, bc.path, nil)
			r.Header.Set("X-Tenant", "t1")
			r.Header.Set("X-Criticality", "SHEDDABLE")
			w := &responseSink{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				p.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkAdmitted compares a GET through the gateway with no admission
// policy and with all three (shedding, a rate limit per client IP that
// never refuses, a per-tenant bulkhead), over loopback, in one run; the
// ratio is the cost of admission on the forwarded path.
func BenchmarkAdmitted(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello"))
	}))
	defer up.Close()
	cfg, err := config.Parse(fmt.Appendf(nil, `
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes:
  - {name: plain, upstream: a, match: {path_prefix: /plain}}
  - name: admitted
    upstream: a
    match: {path_prefix: /admitted}
    policies:
      shed: {max_in_flight: 100000}
      rate_limit: {rate: 1000000000/s, key: [client_ip]}
      concurrency: {max: 100000, per_key: ["header:X-Tenant"]}
`, up.URL), config.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	gw := httptest.NewServer(p)
	defer gw.Close()
	for _, name := range []string{"plain", "admitted"} {
		b.Run(name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			defer client.CloseIdleConnections()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest(http.MethodGet, gw.URL+"/"+name, nil)
				req.Header.Set("X-Tenant", "t1")
				for pb.Next() {
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}
