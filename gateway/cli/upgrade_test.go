package cli_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// freeAddr returns a loopback address no one listens on now. An upgrade
// hands listeners over by the address they were asked for, so the test
// names fixed ports rather than ":0".
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// steadyLoad is a fixed number of keep-alive clients sending requests one
// after another until stopped, or until paused is set (as a load balancer
// that took the instance out of rotation would stop them).
type steadyLoad struct {
	sent, ok, failed atomic.Int64
	paused           atomic.Bool
	stopC            chan struct{}
	wg               sync.WaitGroup
	mu               sync.Mutex
	errs             []string
}

func startSteadyLoad(url string, clients int) *steadyLoad {
	l := &steadyLoad{stopC: make(chan struct{})}
	for range clients {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		l.wg.Go(func() {
			defer client.CloseIdleConnections()
			for !l.paused.Load() {
				select {
				case <-l.stopC:
					return
				default:
				}
				l.one(client, url)
			}
		})
	}
	return l
}

func (l *steadyLoad) one(client *http.Client, url string) {
	l.sent.Add(1)
	resp, err := client.Get(url)
	if err == nil {
		var body []byte
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode != http.StatusOK || string(body) != "ok") {
			err = fmt.Errorf("status %d, body %q", resp.StatusCode, body)
		}
	}
	if err != nil {
		l.failed.Add(1)
		l.mu.Lock()
		if len(l.errs) < 5 {
			l.errs = append(l.errs, err.Error())
		}
		l.mu.Unlock()
		return
	}
	l.ok.Add(1)
}

// waitOK waits (at most 20s) until n more requests have succeeded.
func (l *steadyLoad) waitOK(t *testing.T, n int64) {
	t.Helper()
	want := l.ok.Load() + n
	deadline := time.Now().Add(20 * time.Second)
	for l.ok.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests succeeded within 20s (%d failed: %q)", l.ok.Load(), want, l.failed.Load(), l.errs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *steadyLoad) stop() {
	close(l.stopC)
	l.wg.Wait()
}

// check reports the counts and fails t for any failed request.
func (l *steadyLoad) check(t *testing.T, what string) {
	t.Helper()
	t.Logf("%s: %d requests sent, %d succeeded, %d failed", what, l.sent.Load(), l.ok.Load(), l.failed.Load())
	if n := l.failed.Load(); n != 0 {
		t.Errorf("%s: %d requests failed, want 0; first errors: %q", what, n, l.errs)
	}
}

// running reports whether the process pid is alive (not gone, and not a
// zombie waiting to be reaped by whoever inherited it).
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil // no /proc: ask the kernel
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// waitFor polls cond every 10ms for at most d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// readPID reads a pid file; 0 when it is missing or not yet written.
func readPID(file string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// TestServeUpgradeAndDrainUnderLoad runs the built binary under steady
// load from a fixed number of keep-alive clients and loses no request:
// first across a SIGUSR2 upgrade (a new process takes the sockets over and
// the old one drains and exits 0), then across a SIGTERM drain of the new
// process, with the clients stopped the way a load balancer stops sending
// once readiness fails. Every process is stopped by its PID.
func TestServeUpgradeAndDrainUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildLevee(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond) // a request takes a little while, so some are in flight at any moment
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	dir := t.TempDir()
	public, admin := freeAddr(t), freeAddr(t)
	file := write(t, dir, "levee.yaml", fmt.Sprintf(`
listeners: [{name: public, address: %q}]
upstreams: [{name: app, targets: [{url: %q}]}]
routes: [{name: all, upstream: app}]
admin: {address: %q}
`, public, up.URL, admin))
	pidFile := filepath.Join(dir, "levee.pid")
	logFile, err := os.Create(filepath.Join(dir, "levee.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	// The log is a file, not a pipe: the new process of an upgrade writes
	// to it too, and would otherwise keep the old one's pipe open.
	cmd := exec.Command(bin, "serve", "-c", file, "-grace-period", "10s", "-drain-delay", "1s", "-pid-file", pidFile)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	oldPID := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var pids sync.Map // every pid started, killed at the end if still running
	pids.Store(oldPID, true)
	t.Cleanup(func() {
		pids.Range(func(k, _ any) bool {
			if pid := k.(int); running(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return true
		})
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("levee log:\n%s", b)
		}
	})
	ready := func() bool {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if !waitFor(20*time.Second, func() bool { return readPID(pidFile) == oldPID && ready() }) {
		t.Fatalf("levee serve (pid %d) not ready within 20s", oldPID)
	}
	const clients = 8
	url := "http://" + public + "/"

	// The upgrade: SIGUSR2 under load (SIGHUP reloads the configuration);
	// the new process writes its pid once ready, the old one drains and
	// exits 0.
	load := startSteadyLoad(url, clients)
	load.waitOK(t, 300)
	if err := syscall.Kill(oldPID, syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	var newPID int
	if !waitFor(20*time.Second, func() bool { newPID = readPID(pidFile); return newPID != 0 && newPID != oldPID }) {
		t.Fatalf("no new process took over within 20s of SIGUSR2")
	}
	pids.Store(newPID, true)
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Errorf("the old process exited with %d after the upgrade, want 0", exit.ExitCode())
		} else if err != nil {
			t.Errorf("the old process: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the old process (pid %d) did not exit within 20s of the upgrade", oldPID)
	}
	load.waitOK(t, 300) // served by the new process alone
	load.stop()
	load.check(t, "SIGUSR2 upgrade")

	// The drain: SIGTERM under load. A load balancer polls readiness every
	// 100ms and stops the clients after two failures in a row; the drain
	// delay (1s) covers that.
	load = startSteadyLoad(url, clients)
	load.waitOK(t, 300)
	var signalled atomic.Bool
	lbDone := make(chan struct{})
	go func() {
		defer close(lbDone)
		fails := 0
		for !load.paused.Load() && running(newPID) {
			if ready() {
				fails = 0
			} else if fails++; fails == 2 && signalled.Load() {
				load.paused.Store(true)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	signalled.Store(true)
	if err := syscall.Kill(newPID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !waitFor(20*time.Second, func() bool { return !running(newPID) }) {
		t.Fatalf("the new process (pid %d) did not exit within 20s of SIGTERM", newPID)
	}
	<-lbDone
	load.stop()
	load.check(t, "SIGTERM drain")
	if !load.paused.Load() {
		t.Errorf("readiness did not fail after SIGTERM")
	}
	if c, err := net.DialTimeout("tcp", public, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the last process exited", public)
	}
	if b, _ := os.ReadFile(logFile.Name()); strings.Contains(string(b), `"level":"ERROR"`) {
		t.Errorf("the log has errors:\n%s", b)
	}
}

func TestServePIDFileNeedsUpgrade(t *testing.T) {
	code, _, errs := run("serve", "-c", write(t, t.TempDir(), "levee.yaml", good), "-upgrade=false", "-pid-file", "x.pid")
	if code != 2 || !strings.Contains(errs, "-pid-file needs -upgrade") {
		t.Errorf("Run(serve -upgrade=false -pid-file) = %d, %q; want 2 and why", code, errs)
	}
}
