package proxy

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// TestForwardedRequest checks what the upstream receives: the rewritten
// path with the query kept, the client's Host (or rewrite.host), the
// route's header edits, no hop-by-hop fields, and forwarding fields.
func TestForwardedRequest(t *testing.T) {
	up := echoUpstream(t, "a")
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes:
  - name: strip
    upstream: a
    match: {path_prefix: /api}
    strip_prefix: /api
    request_headers:
      remove: [X-Debug]
      set: {X-Gateway: levee, x-replaced: new}
      add: {X-Added: two}
    response_headers:
      remove: [X-Upstream]
      add: {Cache-Control: max-age=5}
  - name: rewrite
    upstream: a
    match: {path_prefix: /old/}
    rewrite: {prefix: /new/, host: backend.internal}
`, up.URL), nil)

	req, _ := http.NewRequest(http.MethodGet, gw.URL+"/api/users?id=7", nil)
	req.Host = "shop.example.com"
	req.Header.Set("X-Debug", "1")
	req.Header.Set("X-Replaced", "old")
	req.Header.Set("X-Added", "one")
	req.Header.Set("Connection", "X-Secret, keep-alive")
	req.Header.Set("X-Secret", "hop")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Proxy-Authorization", "Basic Zm9vOmJhcg==")
	req.Header.Set("Te", "gzip")
	resp, body := do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", resp.StatusCode, body)
	}
	s := decodeSeen(t, body)
	if s.Path != "/users" || s.Query != "id=7" {
		t.Errorf("upstream got path %q query %q, want /users and id=7", s.Path, s.Query)
	}
	if s.Host != "shop.example.com" {
		t.Errorf("upstream got Host %q, want the client's shop.example.com", s.Host)
	}
	for name, want := range map[string]string{"X-Gateway": "levee", "X-Replaced": "new", "X-Debug": "", "X-Secret": "", "Keep-Alive": "", "Proxy-Authorization": "", "Te": ""} {
		if got := strings.Join(s.Header[name], ","); got != want {
			t.Errorf("upstream got %s %q, want %q", name, got, want)
		}
	}
	if got := s.Header["X-Added"]; len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Errorf("upstream got X-Added %q, want [one two]", got)
	}
	if got := resp.Header.Get("X-Upstream"); got != "" {
		t.Errorf("client got X-Upstream %q, want it removed", got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "max-age=5" {
		t.Errorf("client got Cache-Control %q, want max-age=5", got)
	}

	resp, body = get(t, gw.URL+"/old/thing")
	s = decodeSeen(t, body)
	if resp.StatusCode != http.StatusOK || s.Path != "/new/thing" || s.Host != "backend.internal" {
		t.Errorf("rewrite: upstream got %q on host %q (status %d), want /new/thing on backend.internal", s.Path, s.Host, resp.StatusCode)
	}
}

// TestHopByHopResponse checks that fields the upstream lists in Connection
// do not reach the client.
func TestHopByHopResponse(t *testing.T) {
	up := echoUpstreamWith(t, func(w http.ResponseWriter) {
		w.Header().Set("Connection", "X-Internal")
		w.Header().Set("X-Internal", "secret")
		w.Header().Set("X-Public", "ok")
	})
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes: [{name: all, upstream: a}]
`, up), nil)
	resp, _ := get(t, gw.URL+"/")
	if resp.Header.Get("X-Internal") != "" || resp.Header.Get("X-Public") != "ok" {
		t.Errorf("client got X-Internal %q and X-Public %q, want none and ok", resp.Header.Get("X-Internal"), resp.Header.Get("X-Public"))
	}
}

// TestForwardingFields checks X-Forwarded-* and Forwarded from a peer that
// is not trusted (a client's claims are replaced) and from one that is
// (its fields are extended or kept).
func TestForwardingFields(t *testing.T) {
	up := echoUpstream(t, "a")
	tests := []struct {
		name    string
		trusted string
		wantXFF string
		wantFwd string
		proto   string
		xfHost  string
	}{
		{
			name: "untrusted peer", trusted: "[10.0.0.0/8]",
			wantXFF: "127.0.0.1", wantFwd: `for=127.0.0.1;host=shop.example.com;proto=http`,
			proto: "http", xfHost: "shop.example.com",
		},
		{
			name: "trusted peer", trusted: "[127.0.0.1]",
			wantXFF: "203.0.113.9, 127.0.0.1", wantFwd: `for=203.0.113.9, for=127.0.0.1;host=shop.example.com;proto=http`,
			proto: "https", xfHost: "edge.example.com",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0", trusted_proxies: %s}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes: [{name: all, upstream: a}]
`, tt.trusted, up.URL), nil)
			req, _ := http.NewRequest(http.MethodGet, gw.URL+"/", nil)
			req.Host = "shop.example.com"
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("X-Forwarded-Host", "edge.example.com")
			req.Header.Set("Forwarded", "for=203.0.113.9")
			_, body := do(t, req)
			s := decodeSeen(t, body)
			for name, want := range map[string]string{
				"X-Forwarded-For": tt.wantXFF, "Forwarded": tt.wantFwd,
				"X-Forwarded-Proto": tt.proto, "X-Forwarded-Host": tt.xfHost,
			} {
				if got := strings.Join(s.Header[name], " | "); got != want {
					t.Errorf("upstream got %s %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	mustTrust := func(ss ...string) trust {
		var tr trust
		for _, s := range ss {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				t.Fatal(err)
			}
			tr = append(tr, p)
		}
		return tr
	}
	lb := mustTrust("10.0.0.0/8")
	tests := []struct {
		name string
		peer string
		xff  []string
		t    trust
		want string
	}{
		{name: "no trust: the peer, whatever it claims", peer: "198.51.100.1", xff: []string{"1.2.3.4"}, want: "198.51.100.1"},
		{name: "untrusted peer", peer: "198.51.100.1", xff: []string{"1.2.3.4"}, t: lb, want: "198.51.100.1"},
		{name: "trusted peer, one hop", peer: "10.0.0.2", xff: []string{"203.0.113.9"}, t: lb, want: "203.0.113.9"},
		{name: "rightmost untrusted wins over a spoofed left", peer: "10.0.0.2", xff: []string{"6.6.6.6, 203.0.113.9, 10.0.0.3"}, t: lb, want: "203.0.113.9"},
		{name: "across header lines", peer: "10.0.0.2", xff: []string{"6.6.6.6", "203.0.113.9", "10.0.0.3"}, t: lb, want: "203.0.113.9"},
		{name: "garbage stops at the last trusted hop", peer: "10.0.0.2", xff: []string{"203.0.113.9, junk, 10.0.0.3"}, t: lb, want: "10.0.0.3"},
		{name: "all trusted: the leftmost", peer: "10.0.0.2", xff: []string{"10.0.0.9, 10.0.0.3"}, t: lb, want: "10.0.0.9"},
		{name: "trusted peer without the field", peer: "10.0.0.2", t: lb, want: "10.0.0.2"},
		{name: "IPv4-mapped peer", peer: "::ffff:10.0.0.2", xff: []string{"2001:db8::1"}, t: lb, want: "2001:db8::1"},
	}
	for _, tt := range tests {
		h := http.Header{}
		for _, v := range tt.xff {
			h.Add("X-Forwarded-For", v)
		}
		got := clientIP(h, netip.MustParseAddr(tt.peer).Unmap(), tt.t)
		if got.String() != tt.want {
			t.Errorf("%s: clientIP(%q, %s) = %s, want %s", tt.name, tt.xff, tt.peer, got, tt.want)
		}
	}
}

func TestForwardedElement(t *testing.T) {
	tests := []struct {
		peer, host, want string
	}{
		{"192.0.2.1", "example.com", "for=192.0.2.1;host=example.com;proto=http"},
		{"2001:db8::1", "example.com:8080", `for="[2001:db8::1]";host="example.com:8080";proto=http`},
		{"192.0.2.1", "[::1]:8080", `for=192.0.2.1;host="[::1]:8080";proto=http`},
		{"", "", "for=unknown;proto=http"},
	}
	for _, tt := range tests {
		var peer netip.Addr
		if tt.peer != "" {
			peer = netip.MustParseAddr(tt.peer)
		}
		if got := forwardedElement(peer, tt.host, "http"); got != tt.want {
			t.Errorf("forwardedElement(%s, %q) = %s, want %s", tt.peer, tt.host, got, tt.want)
		}
	}
}

// FuzzClientIP checks that any X-Forwarded-For is read without panicking,
// and that the client found is the peer or an address the field lists.
func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"203.0.113.9", "6.6.6.6, 203.0.113.9, 10.0.0.3", "junk, 10.0.0.3", "", ",,,", "::ffff:1.2.3.4", "[::1]", "10.0.0.1 , fe80::1%eth0"} {
		f.Add(s, "10.0.0.2")
	}
	tr := trust{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, xff, peerText string) {
		peer, err := netip.ParseAddr(peerText)
		if err != nil {
			return
		}
		peer = peer.Unmap()
		h := http.Header{"X-Forwarded-For": {xff}}
		got := clientIP(h, peer, tr)
		if got == peer {
			return
		}
		if !tr.contains(peer) {
			t.Fatalf("clientIP(%q, untrusted %s) = %s, want the peer", xff, peer, got)
		}
		found := false
		for _, hop := range strings.Split(xff, ",") {
			if a, err := netip.ParseAddr(strings.TrimSpace(hop)); err == nil && a.Unmap() == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("clientIP(%q, %s) = %s, which the field does not list", xff, peer, got)
		}
	})
}

// FuzzRequestID checks that the request id answered is always safe to put
// in a header and a log: the client's only when well formed.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"abc-123", "", "bad id", strings.Repeat("x", 129), "a\r\nInjected: 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		id := requestID(http.Header{RequestIDHeader: {in}})
		if !validRequestID(id) {
			t.Fatalf("requestID(%q) = %q, not a valid id", in, id)
		}
		if id != in && validRequestID(in) {
			t.Fatalf("requestID(%q) = %q, want the client's well-formed id kept", in, id)
		}
	})
}
