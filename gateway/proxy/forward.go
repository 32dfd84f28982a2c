package proxy

import (
	"net/http"
	"net/netip"
	"strings"
)

// trust is a listener's set of trusted proxies.
type trust []netip.Prefix

func (t trust) contains(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr is the connection peer's address from r.RemoteAddr, unmapped;
// the zero Addr when RemoteAddr is not an IP address (a Unix socket).
func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// clientIP finds the client's address: the peer's, unless the peer is a
// trusted proxy, in which case X-Forwarded-For is read from the right and
// the first address that is not a trusted proxy is the client. A malformed
// entry ends the walk at the last trusted hop, since what lies left of it
// cannot be believed; when every hop is trusted, the leftmost is the
// client.
func clientIP(h http.Header, peer netip.Addr, t trust) netip.Addr {
	if !peer.IsValid() || !t.contains(peer) {
		return peer
	}
	client := peer
	vs := h["X-Forwarded-For"]
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		for v != "" {
			var hop string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				hop, v = v, ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				return client
			}
			client = a.Unmap()
			if !t.contains(client) {
				return client
			}
		}
	}
	return client
}

// setForwarded writes X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host
// and Forwarded on out, the request sent upstream, from in, the client's.
// When the peer is a trusted proxy, its fields are extended (For, Forwarded)
// or kept (Proto, Host); otherwise a client's own values are dropped, so
// that nothing upstream believes what a client claims about itself.
func setForwarded(out http.Header, in *http.Request, peer netip.Addr, trusted bool) {
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	peerText := ""
	if peer.IsValid() {
		peerText = peer.String()
	}

	xff := peerText
	if prior := in.Header["X-Forwarded-For"]; trusted && len(prior) > 0 && peerText != "" {
		xff = strings.Join(prior, ", ") + ", " + peerText
	}
	if xff != "" {
		out["X-Forwarded-For"] = []string{xff}
	}
	if v := in.Header.Get("X-Forwarded-Proto"); trusted && v != "" {
		out["X-Forwarded-Proto"] = []string{v}
	} else {
		out["X-Forwarded-Proto"] = []string{proto}
	}
	if v := in.Header.Get("X-Forwarded-Host"); trusted && v != "" {
		out["X-Forwarded-Host"] = []string{v}
	} else if in.Host != "" {
		out["X-Forwarded-Host"] = []string{in.Host}
	}

	elem := forwardedElement(peer, in.Host, proto)
	if prior := in.Header["Forwarded"]; trusted && len(prior) > 0 {
		elem = strings.Join(prior, ", ") + ", " + elem
	}
	out["Forwarded"] = []string{elem}
}

// forwardedElement is one RFC 7239 element: for=, host= and proto=, with
// IPv6 addresses bracketed and quoted, and an unknown peer as "unknown".
func forwardedElement(peer netip.Addr, host, proto string) string {
	var b strings.Builder
	b.WriteString("for=")
	switch {
	case !peer.IsValid():
		b.WriteString("unknown")
	case peer.Is6():
		b.WriteString(`"[` + peer.String() + `]"`)
	default:
		b.WriteString(peer.String())
	}
	if host != "" {
		b.WriteString(";host=")
		b.WriteString(quoteForwarded(host))
	}
	b.WriteString(";proto=")
	b.WriteString(proto)
	return b.String()
}

// quoteForwarded returns v as an RFC 7230 token when it is one, else as a
// quoted string ("[::1]:8080" and "a b" need quotes).
func quoteForwarded(v string) string {
	for i := 0; i < len(v); i++ {
		if !isTokenByte(v[i]) {
			return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
		}
	}
	return v
}

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
