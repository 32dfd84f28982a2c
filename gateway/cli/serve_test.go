package cli_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// gatewayProcess is a levee serve process started by a test.
type gatewayProcess struct {
	cmd    *exec.Cmd
	addrs  map[string]string // listener name → bound address, from the log
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed

	mu  sync.Mutex
	log strings.Builder
}

// startGateway runs bin serve -c file with extra flags, and waits (at most
// 20s) until every listener in names has logged its address. The process
// is killed, by its PID, when the test ends if it is still running.
func startGateway(t *testing.T, bin, file string, names []string, flags ...string) *gatewayProcess {
	t.Helper()
	g := &gatewayProcess{addrs: map[string]string{}, exited: make(chan struct{})}
	g.cmd = exec.Command(bin, append([]string{"serve", "-c", file}, flags...)...)
	stderr, err := g.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan [2]string, 8)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			g.mu.Lock()
			g.log.WriteString(line + "\n")
			g.mu.Unlock()
			var rec struct{ Msg, Listener, Address string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				listening <- [2]string{rec.Listener, rec.Address}
			}
		}
	}()
	go func() {
		<-scanned // Wait closes the pipe; read it all first
		g.err = g.cmd.Wait()
		close(g.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-g.exited:
		default:
			_ = syscall.Kill(g.cmd.Process.Pid, syscall.SIGKILL)
			<-g.exited
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", g.logText())
		}
	})
	deadline := time.After(20 * time.Second)
	for len(g.addrs) < len(names) {
		select {
		case l := <-listening:
			g.addrs[l[0]] = l[1]
		case <-g.exited:
			t.Fatalf("levee serve exited before listening: %v\n%s", g.err, g.logText())
		case <-deadline:
			t.Fatalf("levee serve did not log its listeners within 20s:\n%s", g.logText())
		}
	}
	return g
}

func (g *gatewayProcess) logText() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.log.String()
}

// buildLevee builds the levee command once per test run of this package
// (TestMain removes it) and returns the binary's path.
func buildLevee(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "levee-e2e-"); buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "levee")
		out, err := exec.Command("go", "build", "-o", buildBin, "../cmd/levee").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// getBody sends a GET and returns the response with its body read.
func getBody(t *testing.T, client *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, string(body)
}

// TestServeBinary runs the built levee binary in front of loopback
// upstreams: it proxies, answers a dead target with a 502 problem, trips
// and recovers a breaker, serves readiness on the admin address, and on
// SIGTERM turns readiness off while still serving, then exits 0.
func TestServeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildLevee(t)

	var failing atomic.Bool
	slowArrived := make(chan struct{}, 16)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			// Longer than the drain delay: these requests are still in
			// flight when the listeners stop accepting.
			slowArrived <- struct{}{}
			time.Sleep(1500 * time.Millisecond)
			fmt.Fprint(w, "slow done")
			return
		}
		if failing.Load() && strings.HasPrefix(r.URL.Path, "/flaky") {
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "upstream saw %s %s via %s", r.Method, r.URL.Path, r.Header.Get("X-Forwarded-For"))
	}))
	defer up.Close()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	file := write(t, t.TempDir(), "levee.yaml", fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - {name: app, targets: [{url: %q}]}
  - {name: gone, targets: [{url: %q}]}
  - name: flaky
    targets: [{url: %q}]
    breaker: {consecutive_failures: 3, failure_rate: 0%%, open_duration: 1s}
routes:
  - {name: api, upstream: app, match: {path_prefix: /api}, strip_prefix: /api}
  - {name: gone, upstream: gone, match: {path_prefix: /gone}}
  - {name: flaky, upstream: flaky, match: {path_prefix: /flaky}}
admin: {address: "127.0.0.1:0"}
`, up.URL, deadAddr, up.URL))

	g := startGateway(t, bin, file, []string{"public", "admin"}, "-drain-delay", "1s", "-grace-period", "10s")
	public, adminURL := "http://"+g.addrs["public"], "http://"+g.addrs["admin"]
	client := &http.Client{Timeout: 10 * time.Second}

	if resp, body := getBody(t, client, public+"/api/hello"); resp.StatusCode != http.StatusOK || body != "upstream saw GET /hello via 127.0.0.1" {
		t.Errorf("GET /api/hello = %d %q, want 200 and the upstream's answer to /hello", resp.StatusCode, body)
	}
	resp, body := getBody(t, client, public+"/gone/x")
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Content-Type") != "application/problem+json" ||
		resp.Header.Get("Levee-Reason") != "connect_failure" || !strings.Contains(body, `"status":502`) {
		t.Errorf("GET /gone/x = %d %q (Content-Type %q, Levee-Reason %q), want a 502 problem with reason connect_failure",
			resp.StatusCode, body, resp.Header.Get("Content-Type"), resp.Header.Get("Levee-Reason"))
	}
	if resp, body := getBody(t, client, public+"/nowhere"); resp.StatusCode != http.StatusNotFound || resp.Header.Get("Levee-Reason") != "no_route" {
		t.Errorf("GET /nowhere = %d %q, want 404 no_route", resp.StatusCode, body)
	}

	// The breaker: three failures open it, then it answers 503 itself;
	// after open_duration (1s) and the upstream healed, a probe closes it.
	failing.Store(true)
	for range 3 {
		if resp, _ := getBody(t, client, public+"/flaky"); resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("GET /flaky while failing = %d, want the upstream's 500", resp.StatusCode)
		}
	}
	if resp, _ := getBody(t, client, public+"/flaky"); resp.StatusCode != http.StatusServiceUnavailable ||
		resp.Header.Get("Levee-Reason") != "breaker_open" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("GET /flaky after 3 failures = %d (Levee-Reason %q, Retry-After %q), want 503 breaker_open with Retry-After",
			resp.StatusCode, resp.Header.Get("Levee-Reason"), resp.Header.Get("Retry-After"))
	}
	failing.Store(false)
	recovered := false
	for range 60 { // at most 3s: the breaker waits 1s
		resp, _ := getBody(t, client, public+"/flaky")
		if resp.StatusCode == http.StatusOK {
			recovered = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !recovered {
		t.Fatalf("the breaker did not let traffic through within 3s of the upstream healing")
	}

	if resp, _ := getBody(t, client, adminURL+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz = %d, want 200", resp.StatusCode)
	}
	if resp, _ := getBody(t, client, adminURL+"/livez"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /livez = %d, want 200", resp.StatusCode)
	}

	// SIGTERM with requests in flight: readiness fails at once while the
	// listener goes on serving for the drain delay; the requests in flight
	// finish; then the process exits 0.
	const inFlight = 8
	results := make(chan string, inFlight)
	for range inFlight {
		go func() {
			resp, err := client.Get(public + "/api/slow")
			if err != nil {
				results <- err.Error()
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				results <- err.Error()
				return
			}
			results <- fmt.Sprintf("%d %s", resp.StatusCode, body)
		}()
	}
	for i := range inFlight {
		select {
		case <-slowArrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d slow requests reached the upstream within 10s", i, inFlight)
		}
	}
	if err := syscall.Kill(g.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	notReady := false
	for range 50 { // at most 1s
		resp, err := client.Get(adminURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				notReady = true
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !notReady {
		t.Errorf("/readyz did not fail after SIGTERM")
	}
	if resp, body := getBody(t, client, public+"/api/draining"); resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("GET while draining = %d %q (Connection: close %v), want 200 and Connection: close", resp.StatusCode, body, resp.Close)
	}
	select {
	case <-g.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("levee serve did not exit within 20s of SIGTERM")
	}
	var exit *exec.ExitError
	if errors.As(g.err, &exit) {
		t.Errorf("levee serve exited with %d after SIGTERM, want 0", exit.ExitCode())
	} else if g.err != nil {
		t.Errorf("levee serve: %v", g.err)
	}
	failed := 0
	for range inFlight {
		if r := <-results; r != "200 slow done" {
			failed++
			t.Errorf("a request in flight at SIGTERM got %q, want 200 slow done", r)
		}
	}
	t.Logf("requests in flight across SIGTERM: %d, failed: %d", inFlight, failed)
}
