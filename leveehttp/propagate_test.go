package leveehttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveehttp"
)

func TestParseTimeout(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"250m", 250 * time.Millisecond, true},
		{"1S", time.Second, true},
		{"2M", 2 * time.Minute, true},
		{"1H", time.Hour, true},
		{"99999999u", 99999999 * time.Microsecond, true},
		{"5n", 5, true},
		{"1.5s", 1500 * time.Millisecond, true},
		{"300ms", 300 * time.Millisecond, true},
		{"2.5", 2500 * time.Millisecond, true},
		{" 3 ", 3 * time.Second, true},
		{"1e30", 100 * 365 * 24 * time.Hour, true},
		{"99999999H", 100 * 365 * 24 * time.Hour, true},
		{"", 0, false},
		{"0m", 0, false},
		{"-1s", 0, false},
		{"0", 0, false},
		{"NaN", 0, false},
		{"abc", 0, false},
		{"12x", 0, false},
		{"m", 0, false},
		{"1.5m5", 0, false},
	}
	for _, tt := range tests {
		got, err := leveehttp.ParseTimeout(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseTimeout(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, leveehttp.ErrBadTimeout) {
			t.Errorf("ParseTimeout(%q) error %v does not match ErrBadTimeout", tt.in, err)
		}
	}
}

func TestFormatGRPCTimeout(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{-time.Second, "1n"},
		{0, "1n"},
		{1500 * time.Nanosecond, "1500n"},
		{250 * time.Millisecond, "250000u"},
		{2 * time.Second, "2000000u"},
		{2*time.Second + 1, "2000001u"},
		{3 * time.Hour, "10800000m"},
		{1000 * time.Hour, "3600000S"},
	}
	for _, tt := range tests {
		if got := leveehttp.FormatGRPCTimeout(tt.in); got != tt.want {
			t.Errorf("FormatGRPCTimeout(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseTimeout(f *testing.F) {
	for _, s := range []string{"250m", "1S", "1.5s", "2.5", "", "-1", "99999999H", "1e30", "0x10", "\x00m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := leveehttp.ParseTimeout(s)
		if err != nil {
			return
		}
		if d <= 0 || d > 100*365*24*time.Hour {
			t.Fatalf("ParseTimeout(%q) = %v, want a positive bounded duration", s, d)
		}
		// What we format, we read back as at least as long (rounded up).
		back, err := leveehttp.ParseTimeout(leveehttp.FormatGRPCTimeout(d))
		if err != nil || back < d {
			t.Fatalf("round trip of %v: %v, %v", d, back, err)
		}
	})
}

func TestPropagate(t *testing.T) {
	type seen struct {
		left time.Duration
		has  bool
		crit levee.Criticality
	}
	var got seen
	h := func(opts leveehttp.PropagateOptions) http.Handler {
		return leveehttp.Propagate(opts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			dl, ok := r.Context().Deadline()
			got = seen{time.Until(dl), ok, levee.CriticalityFrom(r.Context())}
		}))
	}
	tests := []struct {
		name    string
		opts    leveehttp.PropagateOptions
		hdr     map[string]string
		wantMax time.Duration
		has     bool
		crit    levee.Criticality
	}{
		{"no headers", leveehttp.PropagateOptions{}, nil, 0, false, levee.Critical},
		{"grpc timeout", leveehttp.PropagateOptions{}, map[string]string{"Grpc-Timeout": "200m"}, 200 * time.Millisecond, true, levee.Critical},
		{"request timeout", leveehttp.PropagateOptions{}, map[string]string{"X-Request-Timeout": "1.5s"}, 1500 * time.Millisecond, true, levee.Critical},
		{"capped by server", leveehttp.PropagateOptions{MaxTimeout: time.Second}, map[string]string{"Grpc-Timeout": "10S"}, time.Second, true, levee.Critical},
		{"server limit alone", leveehttp.PropagateOptions{MaxTimeout: time.Second}, nil, time.Second, true, levee.Critical},
		{"bad value ignored", leveehttp.PropagateOptions{}, map[string]string{"Grpc-Timeout": "soon"}, 0, false, levee.Critical},
		{"bad first, good second", leveehttp.PropagateOptions{}, map[string]string{"Grpc-Timeout": "-5", "X-Request-Timeout": "2s"}, 2 * time.Second, true, levee.Critical},
		{"criticality", leveehttp.PropagateOptions{}, map[string]string{"X-Criticality": "SHEDDABLE"}, 0, false, levee.Sheddable},
		{"criticality off", leveehttp.PropagateOptions{CriticalityHeader: "-"}, map[string]string{"X-Criticality": "SHEDDABLE"}, 0, false, levee.Critical},
		{"bad criticality", leveehttp.PropagateOptions{}, map[string]string{"X-Criticality": "VIP"}, 0, false, levee.Critical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for k, v := range tt.hdr {
				r.Header.Set(k, v)
			}
			got = seen{}
			h(tt.opts).ServeHTTP(httptest.NewRecorder(), r)
			if got.has != tt.has || got.crit != tt.crit {
				t.Errorf("deadline set %v, criticality %v; want %v, %v", got.has, got.crit, tt.has, tt.crit)
			}
			if tt.has && (got.left > tt.wantMax || got.left < tt.wantMax-time.Second) {
				t.Errorf("deadline %v away, want just under %v", got.left, tt.wantMax)
			}
		})
	}
}

// TestDeadlineShrinksAcrossTwoHops sends a request with a budget to a
// service that calls a second one: the second sees the first's remaining
// budget less the safety margin.
func TestDeadlineShrinksAcrossTwoHops(t *testing.T) {
	leaf := make(chan time.Duration, 1)
	back := httptest.NewServer(leveehttp.Propagate(leveehttp.PropagateOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dl, _ := r.Context().Deadline()
		leaf <- time.Until(dl)
		if levee.CriticalityFrom(r.Context()) != levee.SheddablePlus {
			w.WriteHeader(400)
		}
	})))
	defer back.Close()
	front := httptest.NewServer(leveehttp.Propagate(leveehttp.PropagateOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond) // the front's own work eats budget
		req, _ := http.NewRequestWithContext(r.Context(), "GET", back.URL, nil)
		leveehttp.WriteBudget(req, 100*time.Millisecond)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			w.WriteHeader(502)
			return
		}
		resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
	})))
	defer front.Close()

	req, _ := http.NewRequest("GET", front.URL, nil)
	req.Header.Set("X-Request-Timeout", "2s")
	req.Header.Set("X-Criticality", "SHEDDABLE_PLUS")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("front answered %d; the criticality did not travel", resp.StatusCode)
	}
	got := <-leaf
	if got > 2*time.Second-150*time.Millisecond || got < time.Second {
		t.Errorf("second hop's budget = %v, want under 2s - 50ms work - 100ms margin", got)
	}
}

func TestWriteBudgetKeepsCallerHeaders(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(levee.WithCriticality(ctx, levee.Sheddable), "GET", "http://127.0.0.1/", nil)
	req.Header.Set("Grpc-Timeout", "5m")
	leveehttp.WriteBudget(req, 0)
	if got := req.Header.Get("Grpc-Timeout"); got != "5m" {
		t.Errorf("Grpc-Timeout = %q, want the caller's 5m kept", got)
	}
	if d, err := leveehttp.ParseTimeout(req.Header.Get("X-Request-Timeout")); err != nil || d > time.Second {
		t.Errorf("X-Request-Timeout = %v, %v", d, err)
	}
	if got := req.Header.Get("X-Criticality"); got != "SHEDDABLE" {
		t.Errorf("X-Criticality = %q", got)
	}
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	req2, _ := http.NewRequestWithContext(expired, "GET", "http://127.0.0.1/", nil)
	leveehttp.WriteBudget(req2, 0)
	if got := req2.Header.Get("Grpc-Timeout"); got != "1n" {
		t.Errorf("spent budget Grpc-Timeout = %q, want 1n", got)
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct", "203.0.113.9:5555", nil, "203.0.113.9"},
		{"untrusted peer's header ignored", "203.0.113.9:5555", []string{"1.2.3.4"}, "203.0.113.9"},
		{"one trusted proxy", "10.1.1.1:80", []string{"198.51.100.7"}, "198.51.100.7"},
		{"spoofed left entry ignored", "10.1.1.1:80", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"two trusted hops", "10.1.1.1:80", []string{"198.51.100.7, 10.2.2.2"}, "198.51.100.7"},
		{"several header lines", "[::1]:80", []string{"198.51.100.7", "10.2.2.2"}, "198.51.100.7"},
		{"all trusted", "10.1.1.1:80", []string{"10.3.3.3"}, "10.3.3.3"},
		{"malformed hop", "10.1.1.1:80", []string{"garbage, 10.3.3.3"}, "10.3.3.3"},
		{"mapped v4", "[::ffff:203.0.113.9]:1", nil, "203.0.113.9"},
		{"remote not an IP", "nonsense", nil, "nonsense"},
		{"remote not an IP, with a port", "pipe:1", nil, "pipe"},
		{"v6 peer", "[2001:db8::1]:80", nil, "2001:db8::1"},
	}
	c := leveehttp.ClientIP{TrustedProxies: trusted}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := c.Key(r); got != tt.want {
			t.Errorf("%s: ClientIP.Key = %q, want %q", tt.name, got, tt.want)
		}
		// The zero ClientIP keys on the peer: forwarding headers count
		// for nothing.
		if got, want := (leveehttp.ClientIP{}).Key(r), (leveehttp.ClientIP{}).Key(&http.Request{RemoteAddr: tt.remote}); got != want {
			t.Errorf("%s: ClientIP{}.Key = %q, want the peer's %q", tt.name, got, want)
		}
	}
}

func TestKeyRouteAndHeader(t *testing.T) {
	var route, tenant string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		route, tenant = leveehttp.KeyRoute(r), leveehttp.KeyHeader("x-tenant")(r)
	})
	r := httptest.NewRequest("GET", "/users/42", nil)
	r.Header.Set("X-Tenant", "acme")
	mux.ServeHTTP(httptest.NewRecorder(), r)
	if route != "GET /users/{id}" || tenant != "acme" {
		t.Errorf("KeyRoute = %q, KeyHeader = %q", route, tenant)
	}
}

func TestNewServerDefaults(t *testing.T) {
	s := leveehttp.NewServer("127.0.0.1:0", http.NotFoundHandler(), leveehttp.ServerConfig{WriteTimeout: -1, IdleTimeout: time.Minute})
	if s.ReadHeaderTimeout != 5*time.Second || s.ReadTimeout != 30*time.Second || s.WriteTimeout != 0 ||
		s.IdleTimeout != time.Minute || s.MaxHeaderBytes != 1<<20 || s.Addr != "127.0.0.1:0" {
		t.Errorf("NewServer = %+v", s)
	}
}

func TestStatusFor(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{levee.ErrLimited, 429},
		{levee.Reject(levee.ErrLimited, time.Second), 429},
		{levee.ErrOpen, 503},
		{levee.ErrShed, 503},
		{levee.ErrBulkheadFull, 503},
		{levee.ErrBudgetExhausted, 503},
		{levee.ErrTimeout, 504},
		{errors.New("x"), 500},
	}
	for _, tt := range tests {
		if got := leveehttp.StatusFor(tt.err); got != tt.want {
			t.Errorf("StatusFor(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	for in, want := range map[time.Duration]string{0: "0", -time.Second: "0", time.Nanosecond: "1", time.Second: "1", 1001 * time.Millisecond: "2", levee.Never: ""} {
		if got := leveehttp.RetryAfterSeconds(in); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %q, want %q", in, got, want)
		}
	}
}
