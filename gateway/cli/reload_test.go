package cli_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeReloadUnderLoad runs the built binary under steady load and
// reloads its configuration three ways, losing no request: SIGHUP after
// the file changed (the traffic moves to the new upstream), SIGHUP with a
// file that is not valid (nothing changes; the log says why), and an
// editor's rename-save picked up by the file watch.
func TestServeReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildLevee(t)
	up := func(name string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-From", name)
			io.WriteString(w, "ok")
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	a, b := up("a"), up("b")
	dir := t.TempDir()
	public, admin := freeAddr(t), freeAddr(t)
	conf := func(target string, watch bool) string {
		return fmt.Sprintf(`
listeners: [{name: public, address: %q}]
upstreams: [{name: app, targets: [{url: %q}]}]
routes: [{name: all, upstream: app, policies: {rate_limit: {rate: 100000/s}}}]
admin: {address: %q}
reload: {watch: %v, debounce: 100ms}
`, public, target, admin, watch)
	}
	file := write(t, dir, "levee.yaml", conf(a.URL, false))
	g := startGateway(t, bin, file, []string{"public"})
	url := "http://" + public + "/"
	from := func() string {
		resp, err := http.Get(url)
		if err != nil {
			return ""
		}
		resp.Body.Close()
		return resp.Header.Get("X-From")
	}
	servedBy := func(name string) {
		t.Helper()
		if !waitFor(10*time.Second, func() bool { return from() == name }) {
			t.Fatalf("the gateway did not move to upstream %s within 10s", name)
		}
	}
	servedBy("a")
	load := startSteadyLoad(url, 4)
	load.waitOK(t, 200)

	write(t, dir, "levee.yaml", conf(b.URL, false))
	must(t, syscall.Kill(g.cmd.Process.Pid, syscall.SIGHUP))
	servedBy("b")
	load.waitOK(t, 200)

	write(t, dir, "levee.yaml", strings.Replace(conf(a.URL, false), "upstream: app", "upstream: nowhere", 1))
	must(t, syscall.Kill(g.cmd.Process.Pid, syscall.SIGHUP))
	if !waitFor(10*time.Second, func() bool { return strings.Contains(g.logText(), "reload: failed") }) {
		t.Fatalf("no failed reload logged after SIGHUP with a file that is not valid")
	}
	load.waitOK(t, 200)
	if got := from(); got != "b" {
		t.Fatalf("after a reload that is not valid the gateway answers from %q, want b", got)
	}

	// Turn the watch on by SIGHUP, then save by rename: the watch reloads.
	write(t, dir, "levee.yaml", conf(b.URL, true))
	must(t, syscall.Kill(g.cmd.Process.Pid, syscall.SIGHUP))
	if !waitFor(10*time.Second, func() bool { return strings.Count(g.logText(), `"msg":"reload: applied"`) == 2 }) {
		t.Fatalf("the reload turning the watch on was not applied")
	}
	time.Sleep(200 * time.Millisecond) // the watch starts with the process; the reload changes only its debounce
	tmp := filepath.Join(dir, ".levee.yaml.tmp")
	must(t, os.WriteFile(tmp, []byte(conf(a.URL, true)), 0o600))
	must(t, os.Rename(tmp, file))
	servedBy("a")
	load.waitOK(t, 200)
	load.stop()
	load.check(t, "reloads under load")
	if n := strings.Count(g.logText(), `"msg":"reload: applied"`); n != 3 {
		t.Errorf("%d reloads applied, want 3 (two by SIGHUP, one by the watch)", n)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
