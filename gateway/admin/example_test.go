package admin_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/levee-go/levee/gateway/admin"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/proxy"
)

// The admin API over a running proxy: force a breaker open, then read it
// back from the live state.
func ExampleNew() {
	cfg, err := config.Parse([]byte(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: "127.0.0.1:9"}], breaker: {consecutive_failures: 5}}]
routes: [{name: all, upstream: app}]
`), config.Options{})
	if err != nil {
		panic(err)
	}
	p, err := proxy.New(cfg, proxy.Options{})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	h := admin.New(admin.Options{
		Auth:  admin.Auth{Token: "s3cret"},
		Proxy: func() *proxy.Proxy { return p },
		Audit: slog.New(slog.DiscardHandler),
	})

	req := httptest.NewRequest("PUT", "/api/v1/upstreams/app/breaker", strings.NewReader(`{"mode":"open"}`))
	req.Header.Set("Authorization", "Bearer s3cret")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println("PUT breaker:", rec.Code)

	req = httptest.NewRequest("GET", "/api/v1/state", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var s admin.StateResponse
	json.Unmarshal(rec.Body.Bytes(), &s)
	b := s.Upstreams[0].Breaker
	fmt.Println("breaker:", b.State, "mode:", b.Mode)

	req = httptest.NewRequest("GET", "/api/v1/state", nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println("without the token:", rec.Code)
	// Output:
	// PUT breaker: 204
	// breaker: forced_open mode: open
	// without the token: 401
}

func ExampleAuth_CheckAddress() {
	fmt.Println(admin.Auth{}.CheckAddress("127.0.0.1:9901"))
	fmt.Println(admin.Auth{}.CheckAddress("0.0.0.0:9901"))
	fmt.Println(admin.Auth{Token: "from token_file"}.CheckAddress("0.0.0.0:9901"))
	// Output:
	// <nil>
	// admin: the admin API would be reachable from other hosts without authentication: admin.address "0.0.0.0:9901"; set admin.token_file, admin.token_env or admin.tls.client_ca_file, or listen on 127.0.0.1
	// <nil>
}
