package proxy

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/gateway/config"
)

// dnsServer is a minimal DNS server on loopback UDP: it answers A
// questions from a table the test edits, with no records for other types
// and NXDOMAIN for names it does not know. Enough for Go's own resolver.
type dnsServer struct {
	conn net.PacketConn
	mu   sync.Mutex
	a    map[string][]netip.Addr // lower-case name with the final dot
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: c, a: map[string][]netip.Addr{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := s.answer(buf[:n]); out != nil {
				_, _ = c.WriteTo(out, from)
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return s
}

func (s *dnsServer) set(name string, ips ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var as []netip.Addr
	for _, ip := range ips {
		as = append(as, netip.MustParseAddr(ip))
	}
	s.a[strings.ToLower(name)+"."] = as
}

// resolver is a Go resolver that asks only this server.
func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.conn.LocalAddr().String())
	}}
}

// answer builds the response to one query, or nil for a malformed one.
func (s *dnsServer) answer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil
	}
	// The question: labels up to a zero byte, then type and class.
	i, name := 12, ""
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		name += strings.ToLower(string(q[i+1:i+1+l])) + "."
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1:])
	end := i + 5
	s.mu.Lock()
	addrs, known := s.a[name]
	s.mu.Unlock()
	out := append([]byte(nil), q[:end]...)
	out[2] = 0x84 | q[2]&0x01 // a response, authoritative, recursion desired as asked
	out[3] = 0x80             // recursion available, NOERROR
	if !known {
		out[3] |= 3 // NXDOMAIN
	}
	binary.BigEndian.PutUint16(out[6:], 0) // answers, set below
	binary.BigEndian.PutUint16(out[8:], 0)
	binary.BigEndian.PutUint16(out[10:], 0)
	if qtype != 1 || !known {
		return out
	}
	for _, a := range addrs {
		out = append(out, 0xc0, 12)       // the name: a pointer to the question's
		out = append(out, 0, 1, 0, 1)     // type A, class IN
		out = append(out, 0, 0, 0, 1)     // TTL 1s
		out = append(out, 0, 4)           // 4 bytes of address
		out = append(out, a.AsSlice()...) // the address
	}
	binary.BigEndian.PutUint16(out[6:], uint16(len(addrs)))
	return out
}

// TestResolveThroughDNSServer resolves an upstream's name with Go's own
// resolver, asking a DNS server on loopback whose records the test changes,
// and follows the name from one loopback instance to the other.
func TestResolveThroughDNSServer(t *testing.T) {
	port := loopbackPair(t, func(name string, w http.ResponseWriter, r *http.Request) {})
	dns := startDNS(t)
	dns.set("app.levee.test", "127.0.0.2")
	clk := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg, err := config.Parse(fmt.Appendf(nil, `
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: "http://app.levee.test:%s"}], resolve_interval: 10s}]
routes: [{name: all, upstream: app, timeout: 5s}]
`, port), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{Clock: clk, Resolver: dns.resolver(), Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(p)
	defer func() { gw.Close(); p.Close() }()
	served := func() map[string]int {
		got := map[string]int{}
		for range 4 {
			resp, _ := get(t, gw.URL+"/")
			got[fmt.Sprintf("%s %d", resp.Header.Get("X-Upstream"), resp.StatusCode)]++
		}
		return got
	}
	if got := served(); got["b2 200"] != 4 {
		t.Errorf("with app.levee.test at 127.0.0.2: answers %v, want 4 from b2", got)
	}
	dns.set("app.levee.test", "127.0.0.2", "127.0.0.3")
	clk.Advance(10 * time.Second)
	if got := served(); got["b2 200"] != 2 || got["b3 200"] != 2 {
		t.Errorf("with app.levee.test at both: answers %v, want 2 from each", got)
	}
	dns.set("app.levee.test", "127.0.0.3")
	clk.Advance(10 * time.Second)
	if got := served(); got["b3 200"] != 4 {
		t.Errorf("with app.levee.test at 127.0.0.3: answers %v, want 4 from b3", got)
	}
}
