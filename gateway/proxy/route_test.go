package proxy

import (
	"fmt"
	"net/http"
	"testing"
)

// TestRouteMatching sends requests through routes that differ in one
// match condition each and checks which route took each request, by the
// X-Route field each route's response edits set.
func TestRouteMatching(t *testing.T) {
	up := echoUpstream(t, "a")
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes:
  - {name: exact, upstream: a, match: {path_exact: /exact}, response_headers: {set: {X-Route: exact}}}
  - {name: prefix, upstream: a, match: {path_prefix: /api}, response_headers: {set: {X-Route: prefix}}}
  - {name: prefix-post, upstream: a, priority: 5, match: {path_prefix: /api, methods: [POST]}, response_headers: {set: {X-Route: prefix-post}}}
  - {name: regex, upstream: a, match: {path_regex: "/items/[0-9]+"}, response_headers: {set: {X-Route: regex}}}
  - {name: host, upstream: a, priority: 20, match: {host: admin.example.com}, response_headers: {set: {X-Route: host}}}
  - {name: wildcard, upstream: a, priority: 10, match: {host: "*.example.com"}, response_headers: {set: {X-Route: wildcard}}}
  - {name: canary, upstream: a, priority: 30, match: {headers: [{name: x-canary, value: "on"}]}, response_headers: {set: {X-Route: canary}}}
  - {name: tenant, upstream: a, priority: 30, match: {headers: [{name: X-Tenant, regex: "t-[0-9]+"}, {name: X-Block, invert: true}]}, response_headers: {set: {X-Route: tenant}}}
  - {name: first-of-equals, upstream: a, match: {path_prefix: /tie}, response_headers: {set: {X-Route: first-of-equals}}}
  - {name: second-of-equals, upstream: a, match: {path_prefix: /tie/}, response_headers: {set: {X-Route: second-of-equals}}}
`, up.URL), nil)

	tests := []struct {
		name    string
		method  string
		path    string
		host    string
		headers map[string]string
		want    string // route name; "" means 404
	}{
		{name: "exact", path: "/exact", want: "exact"},
		{name: "exact is not a prefix", path: "/exact/x", want: ""},
		{name: "prefix itself", path: "/api", want: "prefix"},
		{name: "prefix at a segment", path: "/api/users", want: "prefix"},
		{name: "prefix not mid-segment", path: "/apix", want: ""},
		{name: "method narrows a higher route", method: http.MethodPost, path: "/api/users", want: "prefix-post"},
		{name: "regex in full", path: "/items/42", want: "regex"},
		{name: "regex not partial", path: "/items/42/x", want: ""},
		{name: "exact host over wildcard", path: "/exact", host: "admin.example.com", want: "host"},
		{name: "exact host ignores case and port", path: "/", host: "ADMIN.example.com:8080", want: "host"},
		{name: "wildcard subdomain", path: "/", host: "shop.example.com", want: "wildcard"},
		{name: "wildcard not the bare domain", path: "/", host: "example.com", want: ""},
		{name: "header value", path: "/exact", headers: map[string]string{"X-Canary": "on"}, want: "canary"},
		{name: "header value must equal", path: "/exact", headers: map[string]string{"X-Canary": "off"}, want: "exact"},
		{name: "header regex", path: "/", headers: map[string]string{"X-Tenant": "t-17"}, want: "tenant"},
		{name: "inverted header present", path: "/", headers: map[string]string{"X-Tenant": "t-17", "X-Block": "1"}, want: ""},
		{name: "equal priority: first in file", path: "/tie/x", want: "first-of-equals"},
		{name: "no route", path: "/nothing", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, gw.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, body := do(t, req)
			if tt.want == "" {
				checkProblem(t, resp, body, http.StatusNotFound, ReasonNoRoute)
				return
			}
			if got := resp.Header.Get("X-Route"); resp.StatusCode != http.StatusOK || got != tt.want {
				t.Errorf("%s %s (host %q) went to route %q with status %d, want %q", method, tt.path, tt.host, got, resp.StatusCode, tt.want)
			}
		})
	}
}

func TestPathRewrite(t *testing.T) {
	tests := []struct {
		from, to, path, raw string
		wantPath, wantRaw   string
	}{
		{from: "/api", path: "/api/users", wantPath: "/users"},
		{from: "/api", path: "/api", wantPath: "/"},
		{from: "/api/", path: "/api/users", wantPath: "/users"},
		{from: "/api", to: "/v2", path: "/api/users", wantPath: "/v2/users"},
		{from: "/api/", to: "/v2/", path: "/api/users", wantPath: "/v2/users"},
		{from: "/api", to: "/v2/", path: "/api/users", wantPath: "/v2/users"},
		{from: "/api", path: "/api/a/b", raw: "/api/a%2Fb", wantPath: "/a/b", wantRaw: "/a%2Fb"},
		{from: "/api", path: "/other", wantPath: "/other"},
	}
	for _, tt := range tests {
		gotPath, gotRaw := pathRewrite{from: tt.from, to: tt.to}.apply(tt.path, tt.raw)
		if gotPath != tt.wantPath || gotRaw != tt.wantRaw {
			t.Errorf("rewrite %q→%q of (%q, %q) = (%q, %q), want (%q, %q)", tt.from, tt.to, tt.path, tt.raw, gotPath, gotRaw, tt.wantPath, tt.wantRaw)
		}
	}
}
