package leveehttp

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// KeyRoute keys a request by the pattern of the route that matched it
// (r.Pattern): a bounded set, safe as a limiter key or a metric label. Use it
// inside the mux's handlers, where the pattern is known; outside, it returns
// "" for every request.
func KeyRoute(r *http.Request) string { return r.Pattern }

// KeyHeader returns a key function that keys requests by the value of a
// header, such as a tenant or API key header.
func KeyHeader(name string) func(*http.Request) string {
	name = http.CanonicalHeaderKey(name)
	return func(r *http.Request) string { return r.Header.Get(name) }
}

// ClientIP resolves the address of the client that sent a request, trusting
// forwarding headers only from known proxies: it starts from the connection's
// peer and, while that peer is a trusted proxy, steps one hop back through
// X-Forwarded-For. A client cannot spoof its address by sending the header
// itself, because the header is read only from the right, past trusted hops.
//
// It is the one way to key requests by client address: ClientIP{}.Key keys
// on the connection's peer (no proxy trusted), and
// ClientIP{TrustedProxies: ...}.Key on the client behind your proxies.
type ClientIP struct {
	// TrustedProxies are the networks of the proxies in front of the
	// server. Empty means no proxy is trusted: the peer address is the
	// client.
	TrustedProxies []netip.Prefix
	// Header is the forwarding header. Empty means "X-Forwarded-For".
	Header string
}

// Key returns the client's address as a string, for use as a key function
// ([Keyed], [RateLimit]). IPv4-mapped IPv6 addresses are unmapped, so one
// client has one key. A peer address that is not an IP (a Unix socket's)
// is returned as given, host part only.
func (c ClientIP) Key(r *http.Request) string {
	addr, ok := c.Resolve(r)
	if !ok {
		return peerHost(r)
	}
	return addr.String()
}

// peerHost returns the host part of r.RemoteAddr, or all of it when it has
// no port.
func peerHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Resolve returns the client's address, and false when the peer address
// cannot be parsed.
func (c ClientIP) Resolve(r *http.Request) (netip.Addr, bool) {
	peer, err := netip.ParseAddr(peerHost(r))
	if err != nil {
		return netip.Addr{}, false
	}
	peer = peer.Unmap()
	if !c.trusted(peer) {
		return peer, true
	}
	header := c.Header
	if header == "" {
		header = "X-Forwarded-For"
	}
	values := r.Header.Values(header)
	for i := len(values) - 1; i >= 0; i-- {
		hops := strings.Split(values[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[j]))
			if err != nil {
				return peer, true // a malformed hop ends what we can trust
			}
			a = a.Unmap()
			peer = a
			if !c.trusted(a) {
				return a, true
			}
		}
	}
	return peer, true
}

func (c ClientIP) trusted(a netip.Addr) bool {
	for _, p := range c.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
