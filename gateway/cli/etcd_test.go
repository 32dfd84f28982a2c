package cli_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/gateway/cli"
	"github.com/levee-go/levee/gateway/etcdsource/etcdtest"
)

// TestServeFromEtcdRefuses checks that serve refuses to start from a
// missing or invalid etcd value, naming the key, with exit status 2.
func TestServeFromEtcdRefuses(t *testing.T) {
	e := etcdtest.Start(t)
	const key = "/levee/refused.yaml"
	serve := func() (int, string) {
		var stdout, stderr bytes.Buffer
		code := cli.Run([]string{"serve", "-etcd-endpoints", e.URL, "-etcd-key", key, "-etcd-dial-timeout", "2s"}, &stdout, &stderr)
		return code, stderr.String()
	}
	if code, out := serve(); code != cli.ExitInvalid || !strings.Contains(out, "etcd:"+key) || !strings.Contains(out, "not found") {
		t.Errorf("serve with the key missing = %d, %q; want %d and the key reported not found", code, out, cli.ExitInvalid)
	}
	e.Put(key, "listeners: [{name: public, address: \"127.0.0.1:0\"}]\nroutes: [{name: r, upstream: nowhere, match: {path_prefix: /}}]\n")
	if code, out := serve(); code != cli.ExitInvalid || !strings.Contains(out, "etcd:"+key+": ") || !strings.Contains(out, "nowhere") {
		t.Errorf("serve with an invalid value = %d, %q; want %d and the problem, attributed to the key", code, out, cli.ExitInvalid)
	}
	var stderr bytes.Buffer
	if code := cli.Run([]string{"serve", "-c", "levee.yaml", "-etcd-endpoints", e.URL, "-etcd-key", key}, &bytes.Buffer{}, &stderr); code != cli.ExitInvalid {
		t.Errorf("serve with both -c and -etcd-key = %d, want %d", code, cli.ExitInvalid)
	}
	if code := cli.Run([]string{"serve", "-etcd-key", key}, &bytes.Buffer{}, &stderr); code != cli.ExitInvalid || !strings.Contains(stderr.String(), "go together") {
		t.Errorf("serve with -etcd-key alone = %d, %q; want %d and the flags named", code, stderr.String(), cli.ExitInvalid)
	}
}

// TestServeFromEtcd runs the binary with its configuration in etcd.
func TestServeFromEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	e := etcdtest.Start(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream saw %s", r.URL.Path)
	}))
	defer up.Close()
	const key = "/levee/gateway.yaml"
	e.Put(key, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: %q}]}]
routes: [{name: api, upstream: app, match: {path_prefix: /}}]
`, up.URL))
	bin := buildLevee(t)
	g := startGateway(t, bin, "", []string{"public"}, "-etcd-endpoints", e.URL, "-etcd-key", key, "-upgrade=false")
	client := &http.Client{Timeout: 10 * time.Second}
	if resp, body := getBody(t, client, "http://"+g.addrs["public"]+"/hello"); resp.StatusCode != http.StatusOK || body != "upstream saw /hello" {
		t.Errorf("GET /hello = %d %q, want 200 from the upstream the etcd configuration names", resp.StatusCode, body)
	}

	// A new value of the key is applied while the gateway serves; a value
	// that is not valid is refused and the running configuration stays.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "other saw %s", r.URL.Path)
	}))
	defer other.Close()
	e.Put(key, "listeners: [{name: public, address: \"127.0.0.1:0\"}]\nroutes: [{name: api, upstream: nowhere}]\n")
	e.Put(key, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: %q}]}]
routes: [{name: api, upstream: app, match: {path_prefix: /}}]
`, other.URL))
	deadline := time.Now().Add(10 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		var resp *http.Response
		resp, body = getBody(t, client, "http://"+g.addrs["public"]+"/again")
		if resp.StatusCode == http.StatusOK && body == "other saw /again" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("GET /again = %q 10s after the key changed, want the new upstream's answer", body)
}
