package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/proxy"
)

func Example() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "backend got %s", r.URL.Path)
	}))
	defer backend.Close()

	cfg, err := config.Parse([]byte(`
listeners: [{name: public, address: ":8080"}]
upstreams: [{name: app, targets: [{url: "`+backend.URL+`"}]}]
routes: [{name: api, upstream: app, match: {path_prefix: /api}, strip_prefix: /api}]
`), config.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := proxy.New(cfg, proxy.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	handler, _ := p.Handler("public") // serve this on the listener's address
	gw := httptest.NewServer(handler)
	defer gw.Close()

	for _, path := range []string{"/api/users", "/elsewhere"} {
		resp, err := http.Get(gw.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get(proxy.ReasonHeader), string(body))
	}
	// Output:
	// 200  backend got /users
	// 404 no_route {"type":"about:blank","title":"Not Found","status":404,"detail":"no route takes this request","reason":"no_route"}
}

// TestExamples checks that the shipped example configurations build a
// proxy, not only validate.
func TestExamples(t *testing.T) {
	for _, file := range []string{"../examples/levee.yaml", "../examples/quickstart.yaml"} {
		cfg, err := config.Load(file, config.Options{LookupEnv: func(string) (string, bool) { return "", true }})
		if err != nil {
			t.Fatalf("config.Load(%s): %v", file, err)
		}
		p, err := proxy.New(cfg, proxy.Options{Dir: "../examples"})
		if err != nil {
			t.Errorf("New(%s): %v", file, err)
			continue
		}
		for _, l := range cfg.Listeners {
			if _, err := p.Handler(l.Name); err != nil {
				t.Errorf("%s: Handler(%q): %v", file, l.Name, err)
			}
		}
		if _, err := p.Handler("nope"); err == nil {
			t.Errorf("%s: Handler(nope) = nil error, want one", file)
		}
		p.Close()
	}
}
