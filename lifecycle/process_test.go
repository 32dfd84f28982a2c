//go:build !windows

package lifecycle_test

// Tests against real processes: the test binary re-executes itself in
// "server mode" (TestMain checks an environment variable), serves HTTP on
// loopback under a Lifecycle, and reports what it does on stdout, one line
// per fact. Upgrades re-execute it again through tableflip; the child
// inherits stdout, so the test reads both processes from one pipe.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/health"
	"github.com/levee-go/levee/internal/rawload"
	"github.com/levee-go/levee/lifecycle"
)

const serverModeEnv = "LEVEE_LIFECYCLE_TESTSERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverModeEnv) != "" {
		os.Exit(serverMain())
	}
	os.Exit(m.Run())
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		d, err := time.ParseDuration(v)
		if err == nil {
			return d
		}
	}
	return def
}

// serverMain is the test server: /work?ms=N answers with its pid after N
// milliseconds; /livez, /readyz and /startupz are the health endpoints.
//
// Environment: TS_DRAIN (drain delay), TS_UPGRADE=1 (enable upgrades),
// TS_UPGRADE_TIMEOUT, TS_UPGRADE_DRAIN (the old process's drain window), TS_CHILD=exit|unhealthy (how a process started by an
// upgrade misbehaves).
func serverMain() int {
	pid := os.Getpid()
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		// One write per line keeps lines of the two processes apart.
		os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
	}
	h, _ := health.New(health.Config{})
	defer h.Close()
	cfg := lifecycle.Config{
		Name:            "testserver",
		GracePeriod:     20 * time.Second,
		DrainDelay:      envDuration("TS_DRAIN", time.Second),
		ShutdownTimeout: 10 * time.Second,
		FlushTimeout:    2 * time.Second,
		Health:          h,
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, nil)).With("pid", pid),
		Upgrade: lifecycle.UpgradeConfig{
			Enabled:    os.Getenv("TS_UPGRADE") == "1",
			Timeout:    envDuration("TS_UPGRADE_TIMEOUT", 10*time.Second),
			DrainDelay: envDuration("TS_UPGRADE_DRAIN", 500*time.Millisecond),
		},
	}
	l, err := lifecycle.New(cfg)
	if err != nil {
		say("error pid=%d err=%v", pid, err)
		return 2
	}
	if l.HasParent() {
		switch os.Getenv("TS_CHILD") {
		case "exit":
			say("child-exit pid=%d", pid)
			return 3
		case "unhealthy":
			h.Add(health.Check{Name: "warmup", Func: func(context.Context) error { return errors.New("cache still cold") }})
		}
	}
	ln, err := l.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		say("error pid=%d err=%v", pid, err)
		return 2
	}
	mux := http.NewServeMux()
	h.Register(mux)
	mux.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		if ms >= 1000 {
			// Tests wait for this line to know a slow request is in flight.
			say("slow pid=%d ms=%d", pid, ms)
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, pid)
	})
	l.Add(lifecycle.HTTP(&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln))
	l.OnFlush("flush", 0, func(context.Context) error { say("flushed pid=%d", pid); return nil })
	l.OnEvent(func(e levee.Event) {
		switch e.Kind {
		case levee.EventStateChange:
			say("stage pid=%d to=%s reason=%q", pid, e.To, e.Reason)
		default:
			say("info pid=%d reason=%q err=%q", pid, e.Reason, errString(e.Err))
		}
	})
	say("listening pid=%d ppid=%d addr=%s inherited=%v", pid, os.Getppid(), ln.Addr(), l.HasParent())
	err = l.Run(context.Background())
	say("exit pid=%d err=%q", pid, errString(err))
	if err != nil {
		return 1
	}
	return 0
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// proc is a test server process and, after upgrades, its descendants.
type proc struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	mu    sync.Mutex
	seen  []string
	pids  map[int]bool
	errf  *os.File
}

func startServer(t *testing.T, env ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errf, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, lines: make(chan string, 1024), pids: map[int]bool{}, errf: errf}
	p.cmd = exec.Command(exe)
	p.cmd.Env = append(append(os.Environ(), serverModeEnv+"=1"), env...)
	// Files, not pipes copied by exec: a child started by an upgrade
	// inherits them and keeps writing after its parent exits.
	p.cmd.Stdout, p.cmd.Stderr = w, errf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	p.pids[p.cmd.Process.Pid] = true
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.seen = append(p.seen, line)
			if f := fields(line); f["pid"] != "" {
				n, _ := strconv.Atoi(f["pid"])
				p.pids[n] = true
			}
			p.mu.Unlock()
			p.lines <- line
		}
		close(p.lines)
		r.Close()
	}()
	t.Cleanup(func() {
		p.mu.Lock()
		for pid := range p.pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		p.mu.Unlock()
		p.cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(errf.Name())
			t.Logf("server stdout:\n%s\nserver stderr:\n%s", strings.Join(p.snapshot(), "\n"), b)
		}
	})
	return p
}

func (p *proc) snapshot() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// fields parses "word k=v k=v" lines; quoted values keep their spaces.
func fields(line string) map[string]string {
	m := map[string]string{}
	for rest := line; rest != ""; {
		i := strings.IndexByte(rest, '=')
		if i < 0 {
			break
		}
		key := rest[strings.LastIndexByte(rest[:i], ' ')+1 : i]
		rest = rest[i+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			if v, err := strconv.QuotedPrefix(rest); err == nil {
				val, _ = strconv.Unquote(v)
				rest = rest[len(v):]
			}
		} else {
			j := strings.IndexByte(rest, ' ')
			if j < 0 {
				j = len(rest)
			}
			val, rest = rest[:j], rest[j:]
		}
		m[key] = val
		rest = strings.TrimPrefix(rest, " ")
	}
	return m
}

// await returns the first line so far or to come that starts with prefix
// and has every key=value given in kv; it fails the test after timeout.
// Lines of the two processes of an upgrade interleave in any order, so it
// searches everything seen rather than consuming lines.
func (p *proc) await(timeout time.Duration, prefix string, kv ...string) map[string]string {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		for _, line := range p.snapshot() {
			if !strings.HasPrefix(line, prefix+" ") {
				continue
			}
			f := fields(line)
			match := true
			for i := 0; i+1 < len(kv); i += 2 {
				if f[kv[i]] != kv[i+1] {
					match = false
				}
			}
			if match {
				return f
			}
		}
		select {
		case _, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("server output ended while waiting for %q %v", prefix, kv)
			}
		case <-deadline:
			p.t.Fatalf("no %q %v line within %v", prefix, kv, timeout)
		}
	}
}

// stages lists the stages process pid reported, in order.
func (p *proc) stages(pid string) string {
	var out []string
	for _, line := range p.snapshot() {
		if f := fields(line); strings.HasPrefix(line, "stage ") && f["pid"] == pid {
			out = append(out, f["to"])
		}
	}
	return strings.Join(out, ",")
}

func (p *proc) signal(pid string, sig syscall.Signal) {
	p.t.Helper()
	n, _ := strconv.Atoi(pid)
	if err := syscall.Kill(n, sig); err != nil {
		p.t.Fatalf("kill(%s, %v): %v", pid, sig, err)
	}
}

// loadResult counts what clients saw.
type loadResult struct {
	sent, ok, failed, refused atomic.Int64
	okAfterMark               atomic.Int64
	mu                        sync.Mutex
	byPid                     map[string]int
	errs                      []string
}

func (r *loadResult) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("sent %d, ok %d (%d started after the signal; by pid %v), failed %d, refused %d",
		r.sent.Load(), r.ok.Load(), r.okAfterMark.Load(), r.byPid, r.failed.Load(), r.refused.Load())
}

// load drives clients against url until ctx ends, each sending at most
// maxPerWorker requests. Requests that never connected count as refused;
// any other error or a status other than 200 counts as failed. paused, when
// set, stops new requests as a load balancer that took the server out would.
type load struct {
	url      string
	workers  int
	work     time.Duration
	paused   *atomic.Bool
	marked   *atomic.Bool // requests started after it is set count as "after"
	res      *loadResult
	wg       sync.WaitGroup
	cancel   context.CancelFunc
	maxPerWk int
}

func startLoad(url string, workers int, work time.Duration, paused, marked *atomic.Bool) *load {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	ld := &load{url: url, workers: workers, work: work, paused: paused, marked: marked,
		res: &loadResult{byPid: map[string]int{}}, cancel: cancel, maxPerWk: 20000}
	tr := &http.Transport{MaxIdleConnsPerHost: workers, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	for range workers {
		ld.wg.Add(1)
		go func() {
			defer ld.wg.Done()
			for n := 0; n < ld.maxPerWk && ctx.Err() == nil; n++ {
				if paused != nil && paused.Load() {
					return
				}
				ld.one(client, fmt.Sprintf("%s/work?ms=%d", url, work.Milliseconds()))
			}
		}()
	}
	return ld
}

func (ld *load) one(client *http.Client, target string) {
	after := ld.marked != nil && ld.marked.Load()
	ld.res.sent.Add(1)
	resp, err := client.Get(target)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			ld.res.refused.Add(1)
		} else {
			ld.res.failed.Add(1)
		}
		ld.res.note(err.Error())
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		ld.res.failed.Add(1)
		ld.res.note(fmt.Sprintf("status %d body %q err %v", resp.StatusCode, body, err))
		return
	}
	ld.res.ok.Add(1)
	if after {
		ld.res.okAfterMark.Add(1)
	}
	ld.res.mu.Lock()
	ld.res.byPid[string(body)]++
	ld.res.mu.Unlock()
}

func (r *loadResult) note(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) < 5 {
		r.errs = append(r.errs, s)
	}
}

func (ld *load) stop() *loadResult {
	ld.cancel()
	ld.wg.Wait()
	return ld.res
}

// waitOK waits until the load has had n successful requests.
func (ld *load) waitOK(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for ld.res.ok.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("load reached %d ok requests in 20s, want %d: %v", ld.res.ok.Load(), n, ld.res)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func checkNoLoss(t *testing.T, name string, r *loadResult) {
	t.Helper()
	t.Logf("%s: %v", name, r)
	if r.failed.Load() != 0 || r.refused.Load() != 0 {
		t.Errorf("%s: %d failed and %d refused requests, want none; first errors: %q", name, r.failed.Load(), r.refused.Load(), r.errs)
	}
}

func TestProcessSIGTERMUnderLoadLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	p := startServer(t, "TS_DRAIN=1500ms")
	ln := p.await(20*time.Second, "listening")
	url := "http://" + ln["addr"]

	// A load balancer: polls readiness every 100ms and stops routing after
	// three failures in a row, as a readinessProbe with failureThreshold 3
	// would; clients keep sending for 200-300ms after SIGTERM.
	var removed, signalled atomic.Bool
	lbDone := make(chan struct{})
	go func() {
		defer close(lbDone)
		c := &http.Client{Timeout: 5 * time.Second}
		fails := 0
		for range 400 {
			resp, err := c.Get(url + "/readyz")
			if err == nil {
				resp.Body.Close()
			}
			if err == nil && resp.StatusCode == 200 {
				fails = 0
			} else if fails++; fails == 3 && signalled.Load() {
				removed.Store(true)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	ld := startLoad(url, 8, 10*time.Millisecond, &removed, &signalled)
	ld.waitOK(t, 200)
	// One long request in flight across the whole drain and into Stopping.
	slow := make(chan error, 1)
	go func() {
		resp, err := http.Get(url + "/work?ms=2500")
		if err == nil {
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			resp.Body.Close()
		}
		slow <- err
	}()
	p.await(10*time.Second, "slow", "ms", "2500") // the slow request is in flight

	signalled.Store(true)
	p.signal(ln["pid"], syscall.SIGTERM)
	p.await(10*time.Second, "stage", "to", "draining", "reason", "signal terminated")
	p.await(10*time.Second, "stage", "to", "stopping")
	p.await(10*time.Second, "stage", "to", "flushing")
	p.await(10*time.Second, "flushed")
	p.await(10*time.Second, "stage", "to", "stopped")
	exit := p.await(10*time.Second, "exit")
	res := ld.stop()
	<-lbDone

	if exit["err"] != "<nil>" {
		t.Errorf("server exit err = %s, want <nil>", exit["err"])
	}
	if got, want := p.stages(ln["pid"]), "running,draining,stopping,flushing,stopped"; got != want {
		t.Errorf("stages = %s, want %s", got, want)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("server exit status = %v, want 0", err)
	}
	checkNoLoss(t, "SIGTERM", res)
	if err := <-slow; err != nil {
		t.Errorf("request in flight across the drain: %v, want 200", err)
	}
	if !removed.Load() {
		t.Errorf("readiness never failed after SIGTERM")
	}
	if res.okAfterMark.Load() == 0 {
		t.Errorf("no request started after SIGTERM was served, want the drain delay to keep serving")
	}
	if _, err := http.Get(url + "/work"); err == nil {
		t.Errorf("GET after exit succeeded, want connection refused")
	}
}

func TestProcessUpgradeUnderLoadLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	p := startServer(t, "TS_UPGRADE=1")
	old := p.await(20*time.Second, "listening", "inherited", "false")
	p.await(20*time.Second, "info", "pid", old["pid"], "reason", "ready")
	url := "http://" + old["addr"]

	var upgraded atomic.Bool
	ld := startLoad(url, 8, 5*time.Millisecond, nil, &upgraded)
	ld.waitOK(t, 200)

	upgraded.Store(true)
	p.signal(old["pid"], syscall.SIGHUP)
	p.await(10*time.Second, "info", "pid", old["pid"], "reason", "upgrade started")
	child := p.await(20*time.Second, "listening", "inherited", "true", "addr", old["addr"])
	p.await(20*time.Second, "info", "pid", child["pid"], "reason", "ready")
	p.await(20*time.Second, "stage", "pid", old["pid"], "to", "draining", "reason", "upgraded")
	p.await(20*time.Second, "exit", "pid", old["pid"], "err", "<nil>")
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("old process exit status = %v, want 0", err)
	}
	// Keep the load on the new process for a while.
	before := ld.res.ok.Load()
	ld.waitOK(t, before+200)
	res := ld.stop()

	checkNoLoss(t, "upgrade", res)
	if got, want := p.stages(old["pid"]), "running,draining,stopping,flushing,stopped"; got != want {
		t.Errorf("old process stages = %s, want %s", got, want)
	}
	res.mu.Lock()
	oldN, newN := res.byPid[old["pid"]], res.byPid[child["pid"]]
	res.mu.Unlock()
	if oldN == 0 || newN == 0 {
		t.Errorf("requests served by old %d, new %d; want both > 0", oldN, newN)
	}

	p.signal(child["pid"], syscall.SIGTERM)
	p.await(20*time.Second, "exit", "pid", child["pid"], "err", "<nil>")
}

func TestProcessFailedUpgradeKeepsServing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, mode := range []string{"exit", "unhealthy"} {
		t.Run(mode, func(t *testing.T) {
			p := startServer(t, "TS_UPGRADE=1", "TS_UPGRADE_TIMEOUT=2s", "TS_CHILD="+mode)
			old := p.await(20*time.Second, "listening", "inherited", "false")
			p.await(20*time.Second, "info", "pid", old["pid"], "reason", "ready")
			url := "http://" + old["addr"]

			ld := startLoad(url, 4, 5*time.Millisecond, nil, nil)
			ld.waitOK(t, 100)
			p.signal(old["pid"], syscall.SIGHUP)
			var childPid string
			if mode == "exit" {
				childPid = p.await(20*time.Second, "child-exit")["pid"]
			} else {
				childPid = p.await(20*time.Second, "listening", "inherited", "true")["pid"]
			}
			failed := p.await(20*time.Second, "info", "pid", old["pid"], "reason", "upgrade failed")
			t.Logf("upgrade failed as expected: %s", failed["err"])
			// The child is gone (killed at its timeout, or exited).
			n, _ := strconv.Atoi(childPid)
			deadline := time.Now().Add(10 * time.Second)
			for syscall.Kill(n, 0) == nil {
				if time.Now().After(deadline) {
					t.Fatalf("child %d still alive 10s after the failed upgrade", n)
				}
				time.Sleep(20 * time.Millisecond)
			}
			before := ld.res.ok.Load()
			ld.waitOK(t, before+100)
			res := ld.stop()
			checkNoLoss(t, "failed upgrade ("+mode+")", res)
			res.mu.Lock()
			if len(res.byPid) != 1 || res.byPid[old["pid"]] == 0 {
				t.Errorf("served by %v, want only the old process %s", res.byPid, old["pid"])
			}
			res.mu.Unlock()
			if resp, err := http.Get(url + "/readyz"); err != nil || resp.StatusCode != 200 {
				t.Errorf("GET /readyz on the old process after the failed upgrade = %v, %v; want 200", resp, err)
			}

			p.signal(old["pid"], syscall.SIGTERM)
			p.await(20*time.Second, "exit", "pid", old["pid"], "err", "<nil>")
		})
	}
}

func TestProcessSecondSIGTERMForcesStop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	p := startServer(t, "TS_DRAIN=8s")
	ln := p.await(20*time.Second, "listening")
	url := "http://" + ln["addr"]
	slow := make(chan error, 1)
	go func() {
		resp, err := http.Get(url + "/work?ms=30000")
		if err == nil {
			resp.Body.Close()
		}
		slow <- err
	}()
	// The slow request must be in flight before the signals.
	p.await(10*time.Second, "slow", "ms", "30000")

	start := time.Now()
	p.signal(ln["pid"], syscall.SIGTERM)
	p.await(10*time.Second, "stage", "to", "draining")
	p.signal(ln["pid"], syscall.SIGTERM)
	exit := p.await(10*time.Second, "exit")
	took := time.Since(start)
	for _, want := range []string{"drain delay 8s cut short", "closed with work in flight"} {
		if !strings.Contains(exit["err"], want) {
			t.Errorf("exit err = %q, want it to contain %q", exit["err"], want)
		}
	}
	if took > 6*time.Second {
		t.Errorf("forced stop took %v, want well under the 8s drain delay", took)
	}
	if err := <-slow; err == nil {
		t.Errorf("30s request succeeded, want it cut off by the forced stop")
	}
	if err := p.cmd.Wait(); err == nil {
		t.Errorf("exit status 0 after a forced stop, want 1")
	}
}

// awaitGone waits until process pid has exited: it no longer exists, or is
// a zombie nobody has reaped yet. It fails the test after 10 s.
func (p *proc) awaitGone(pid string) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return
		}
		// pid (comm) S ...: the state follows the last parenthesis.
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && strings.HasPrefix(string(b[i:]), ") Z") {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("process %s still running 10s after it said it exits", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// upgrade sends SIGHUP to pid and returns the "listening" line of the
// process it starts. A process started by an upgrade refuses to upgrade
// until its parent has exited, which it learns a moment after the parent
// is gone: the signal is sent again after each such refusal, at most five
// times.
func (p *proc) upgrade(pid string) map[string]string {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	sent := 0
	for ; time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		refused := 0
		for _, line := range p.snapshot() {
			f := fields(line)
			switch {
			case strings.HasPrefix(line, "listening ") && f["ppid"] == pid:
				return f
			case strings.HasPrefix(line, "info ") && f["pid"] == pid && f["reason"] == "upgrade failed" &&
				strings.Contains(f["err"], "parent hasn't exited"):
				refused++
			}
		}
		if sent == refused && sent < 5 {
			if sent > 0 {
				time.Sleep(100 * time.Millisecond)
			}
			p.signal(pid, syscall.SIGHUP)
			sent++
		}
	}
	p.t.Fatalf("no process started by an upgrade of %s within 20s (%d signals sent)", pid, sent)
	return nil
}

// TestProcessUpgradesUnderRawLoadLoseNothing upgrades the server several
// times in a row under steady load from clients that never retry and keep
// their connections alive: each old process must hand its keep-alive
// connections over politely (Connection: close on their next request)
// rather than close them under the clients.
func TestProcessUpgradesUnderRawLoadLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const upgrades = 3
	p := startServer(t, "TS_UPGRADE=1")
	cur := p.await(20*time.Second, "listening", "inherited", "false")
	p.await(20*time.Second, "info", "pid", cur["pid"], "reason", "ready")
	ld, err := rawload.Start(rawload.Config{Addr: cur["addr"], Path: "/work", Conns: 8,
		Pause: time.Millisecond, MaxRequests: 200_000, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ld.Stop()
	if err := ld.WaitOK(200, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	pids := []string{cur["pid"]}
	for i := range upgrades {
		before := ld.Result()
		child := p.upgrade(cur["pid"])
		p.await(20*time.Second, "info", "pid", child["pid"], "reason", "ready")
		p.await(20*time.Second, "exit", "pid", cur["pid"], "err", "<nil>")
		if i == 0 {
			if err := p.cmd.Wait(); err != nil {
				t.Errorf("first process exit status = %v, want 0", err)
			}
		}
		p.awaitGone(cur["pid"])
		// Keep the load on the new process for a while.
		if err := ld.WaitOK(ld.Result().OK+300, 20*time.Second); err != nil {
			t.Fatal(err)
		}
		after := ld.Result()
		t.Logf("upgrade %d (pid %s -> %s): %d requests sent, %d failed", i+1, cur["pid"], child["pid"],
			after.Sent-before.Sent, after.Failed-before.Failed)
		cur = child
		pids = append(pids, cur["pid"])
	}
	res := ld.Stop()
	p.signal(cur["pid"], syscall.SIGTERM)
	p.await(20*time.Second, "exit", "pid", cur["pid"], "err", "<nil>")

	t.Logf("%d upgrades: %v", upgrades, res)
	if res.Failed != 0 {
		t.Errorf("%d of %d requests failed across %d upgrades, want 0; first errors %q", res.Failed, res.Sent, upgrades, res.Errors)
	}
	for _, pid := range pids {
		if res.ByBody[pid] == 0 {
			t.Errorf("process %s served no request, want every process in the chain to serve (by pid %v)", pid, res.ByBody)
		}
	}
}
