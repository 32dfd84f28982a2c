package proxy

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/levee-go/levee/gateway/config"
)

// route is a compiled [config.Route]: its match conditions, the rewrites
// of the forwarded request, and where it goes.
type route struct {
	name     string
	priority int
	index    int // position in the file, which breaks priority ties

	match   matcher
	rewrite pathRewrite
	host    string // replaces the Host header sent upstream; empty keeps the client's

	reqEdits, respEdits headerEdits

	maxBody  int64 // bytes; 0 means no limit
	maxHead  int64 // header bytes; 0 means no limit
	timeout  time.Duration
	upstream *upstream
	proxy    *httputil.ReverseProxy
	forward  http.Handler // proxy, behind the Idempotency-Key policy when configured
	call     callPolicies // fault injection, fallback, hedging: see call.go

	admission *admission // shed, rate limit, concurrency; nil admits all
}

// matcher is a route's match conditions; the zero matcher matches every
// request.
type matcher struct {
	host      string // lower case; "" means any
	wildcard  bool   // host is a suffix: "*.example.com" becomes ".example.com"
	exact     string
	prefix    string
	regex     *regexp.Regexp
	methods   []string
	headers   []headerMatch
	hasPath   bool
	hasMethod bool
}

type headerMatch struct {
	name   string // canonical
	value  string
	regex  *regexp.Regexp
	invert bool
}

func compileMatch(m config.Match) (matcher, error) {
	c := matcher{exact: m.PathExact, prefix: m.PathPrefix, methods: m.Methods}
	if h := strings.ToLower(strings.TrimSuffix(m.Host, ".")); h != "" {
		if rest, ok := strings.CutPrefix(h, "*."); ok {
			c.host, c.wildcard = "."+rest, true
		} else {
			c.host = h
		}
	}
	if m.PathRegex != "" {
		re, err := regexp.Compile(`^(?:` + m.PathRegex + `)$`)
		if err != nil {
			return c, fmt.Errorf("path_regex: %w", err)
		}
		c.regex = re
	}
	c.hasPath = c.exact != "" || c.prefix != "" || c.regex != nil
	c.hasMethod = len(c.methods) > 0
	for _, h := range m.Headers {
		hm := headerMatch{name: textproto.CanonicalMIMEHeaderKey(h.Name), value: h.Value, invert: h.Invert}
		if h.Regex != "" {
			re, err := regexp.Compile(`^(?:` + h.Regex + `)$`)
			if err != nil {
				return c, fmt.Errorf("headers: %w", err)
			}
			hm.regex = re
		}
		c.headers = append(c.headers, hm)
	}
	return c, nil
}

// matches reports whether r meets every condition.
func (m *matcher) matches(r *http.Request) bool {
	if m.host != "" && !m.hostMatches(requestHost(r)) {
		return false
	}
	if m.hasMethod && !slices.Contains(m.methods, r.Method) {
		return false
	}
	if m.hasPath && !m.pathMatches(r.URL.Path) {
		return false
	}
	for i := range m.headers {
		if m.headers[i].matches(r.Header) == m.headers[i].invert {
			return false
		}
	}
	return true
}

func (m *matcher) hostMatches(host string) bool {
	if m.wildcard {
		// "*.example.com" takes any subdomain, not example.com itself.
		return len(host) > len(m.host) && hasSuffixFold(host, m.host)
	}
	return strings.EqualFold(host, m.host)
}

func hasSuffixFold(s, suffix string) bool {
	return strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

func (m *matcher) pathMatches(path string) bool {
	switch {
	case m.exact != "":
		return path == m.exact
	case m.prefix != "":
		return hasPathPrefix(path, m.prefix)
	default:
		return m.regex.MatchString(path)
	}
}

// hasPathPrefix reports whether path starts with prefix at a segment
// boundary: "/api" takes "/api" and "/api/x" but not "/apix"; a prefix
// ending in "/" takes whatever follows it.
func hasPathPrefix(path, prefix string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/'
}

func (h *headerMatch) matches(hdr http.Header) bool {
	vs, ok := hdr[h.name]
	if !ok {
		return false
	}
	if h.value == "" && h.regex == nil {
		return true
	}
	for _, v := range vs {
		if h.regex != nil && h.regex.MatchString(v) || h.regex == nil && v == h.value {
			return true
		}
	}
	return false
}

// requestHost is the request's host without its port or a trailing dot.
func requestHost(r *http.Request) string {
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	return strings.TrimSuffix(h, ".")
}

// sortRoutes orders routes by priority, highest first; the file's order
// breaks ties.
func sortRoutes(rs []*route) {
	slices.SortStableFunc(rs, func(a, b *route) int {
		if c := cmp.Compare(b.priority, a.priority); c != 0 {
			return c
		}
		return cmp.Compare(a.index, b.index)
	})
}

// pathRewrite turns the client's path into the one sent upstream: strip
// removes a prefix; replace swaps the matched prefix for another.
type pathRewrite struct {
	from, to string // from is removed and to put in its place
}

func compileRewrite(r config.Route) pathRewrite {
	switch {
	case r.StripPrefix != "":
		return pathRewrite{from: r.StripPrefix}
	case r.Rewrite.Prefix != "":
		return pathRewrite{from: r.Match.PathPrefix, to: r.Rewrite.Prefix}
	}
	return pathRewrite{}
}

// apply rewrites path (decoded) and rawPath (its escaped form when it
// differs, or ""). A rawPath that does not start with the prefix as written
// is dropped, so that the escaped form never disagrees with the path.
func (pr pathRewrite) apply(path, rawPath string) (string, string) {
	if pr.from == "" || !strings.HasPrefix(path, pr.from) {
		return path, rawPath
	}
	path = joinRewritten(pr.to, path[len(pr.from):])
	if rawPath != "" {
		if rest, ok := strings.CutPrefix(rawPath, pr.from); ok {
			rawPath = joinRewritten(pr.to, rest)
		} else {
			rawPath = ""
		}
	}
	return path, rawPath
}

// joinRewritten puts rest after prefix with exactly one "/" between them,
// and never returns an empty path.
func joinRewritten(prefix, rest string) string {
	switch {
	case prefix == "" && rest == "":
		return "/"
	case prefix == "":
		if !strings.HasPrefix(rest, "/") {
			return "/" + rest
		}
		return rest
	case rest == "":
		return prefix
	case strings.HasSuffix(prefix, "/") && strings.HasPrefix(rest, "/"):
		return prefix + rest[1:]
	case !strings.HasSuffix(prefix, "/") && !strings.HasPrefix(rest, "/"):
		return prefix + "/" + rest
	}
	return prefix + rest
}

// headerEdits is a compiled [config.HeaderEdits]: remove, then set, then
// add, with canonical names.
type headerEdits struct {
	remove []string
	set    []field
	add    []field
}

type field struct{ name, value string }

func compileEdits(e config.HeaderEdits) headerEdits {
	var c headerEdits
	for _, n := range e.Remove {
		c.remove = append(c.remove, textproto.CanonicalMIMEHeaderKey(n))
	}
	for _, n := range slices.Sorted(maps.Keys(e.Set)) {
		c.set = append(c.set, field{textproto.CanonicalMIMEHeaderKey(n), e.Set[n]})
	}
	for _, n := range slices.Sorted(maps.Keys(e.Add)) {
		c.add = append(c.add, field{textproto.CanonicalMIMEHeaderKey(n), e.Add[n]})
	}
	return c
}

func (e *headerEdits) apply(h http.Header) {
	for _, n := range e.remove {
		delete(h, n)
	}
	for _, f := range e.set {
		h[f.name] = []string{f.value}
	}
	for _, f := range e.add {
		h[f.name] = append(h[f.name], f.value)
	}
}
