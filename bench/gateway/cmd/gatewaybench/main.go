// Command gatewaybench measures the gateway against other proxies on
// loopback: throughput (wrk's requests/s) and CPU per request of the proxy
// process (utime+stime from /proc/PID/stat, before and after, divided by the
// requests wrk counted), every figure also given as a ratio to the direct path
// (wrk straight to the upstream) measured in the same run. It also measures
// the CPU cost of a refusal (levee's rate limit against nginx's limit_req) and
// levee's RSS with many idle keep-alive client connections.
//
// The upstream and wrk run on core 0, each proxy on core 1 (taskset). Every
// process is started by this command, stopped by its PID, and listens on
// 127.0.0.1 only; configuration files go to a temporary directory.
//
// Usage (from bench/): go run ./gateway/cmd/gatewaybench [-d 5s] [-c 32] [-levee PATH]
//
// It also serves as its own helpers: "gatewaybench upstream ADDR" is the
// upstream (200 with a 2-byte body), "gatewaybench rproxy ADDR TARGET" the
// pooled httputil.ReverseProxy.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/levee-go/levee/bench/gateway"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "upstream":
			serveUpstream(os.Args[2])
			return
		case "rproxy":
			serveRProxy(os.Args[2], os.Args[3])
			return
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gatewaybench:", err)
		os.Exit(1)
	}
}

func serveUpstream(addr string) {
	body := []byte("ok")
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "2")
		_, _ = w.Write(body)
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintln(os.Stderr, srv.ListenAndServe())
	os.Exit(1)
}

func serveRProxy(addr, target string) {
	u, err := url.Parse(target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rproxy: target:", err)
		os.Exit(2)
	}
	srv := &http.Server{Addr: addr, Handler: gateway.NewPooledProxy(u), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintln(os.Stderr, srv.ListenAndServe())
	os.Exit(1)
}

const (
	upstreamAddr = "127.0.0.1:18080"
	proxyAddr    = "127.0.0.1:18081"
	adminAddr    = "127.0.0.1:18091"
	proxyCore    = "1"
	loadCore     = "0"
)

type options struct {
	dur, warm     time.Duration
	conns, rounds int
	levee         string
	idle          int
	only          string
	tmp, self     string
}

// result is one measured run.
type result struct {
	name     string
	rps      float64
	requests int64
	non2xx   int64
	p50, p99 string
	cpuTicks int64 // proxy process's utime+stime over the run
	hasCPU   bool
	secs     float64 // wrk's duration
}

func run() error {
	var o options
	flag.DurationVar(&o.dur, "d", 5*time.Second, "duration of each measured wrk run")
	flag.DurationVar(&o.warm, "warm", time.Second, "wrk warm-up before each measured run")
	flag.IntVar(&o.conns, "c", 32, "wrk connections")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of every measurement, interleaved; the summary takes each figure's median")
	flag.StringVar(&o.levee, "levee", "", "levee binary (built from ../gateway/cmd/levee when empty)")
	flag.IntVar(&o.idle, "idle", 10000, "idle keep-alive connections for the RSS figure (0 skips it)")
	flag.StringVar(&o.only, "only", "", "regexp: run only the proxies whose name matches")
	flag.Parse()

	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (apt-get install wrk)")
	}
	tmp, err := os.MkdirTemp("", "gatewaybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	o.tmp = tmp
	if o.self, err = os.Executable(); err != nil {
		return err
	}
	raiseNoFile()
	if o.levee == "" {
		o.levee = filepath.Join(tmp, "levee")
		cmd := exec.Command("go", "build", "-o", o.levee, "./cmd/levee")
		cmd.Dir = "../gateway"
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building levee: %w", err)
		}
	}

	printHeader(o)
	up, err := start(o, "upstream", loadCore, upstreamAddr, o.self, "upstream", upstreamAddr)
	if err != nil {
		return err
	}
	defer up.stop()

	var only *regexp.Regexp
	if o.only != "" {
		only = regexp.MustCompile(o.only)
	}
	var rounds [][]result // each round: direct, the proxies, then the refusers
	for i := 1; i <= o.rounds; i++ {
		fmt.Printf("##### round %d of %d\n\n", i, o.rounds)
		direct, err := wrk(o, "direct", "http://"+upstreamAddr+"/", nil)
		if err != nil {
			return err
		}
		results := []result{direct}
		for _, p := range proxies(o) {
			if only != nil && !only.MatchString(p.name) {
				continue
			}
			r, err := measure(o, p)
			if err != nil {
				fmt.Printf("%-18s skipped: %v\n", p.name, err)
				continue
			}
			results = append(results, r)
		}
		printTable(fmt.Sprintf("Round %d: throughput and CPU per request (proxy on core %s)", i, proxyCore), results, direct)
		refusals := []result{direct}
		for _, p := range refusers(o) {
			if only != nil && !only.MatchString(p.name) {
				continue
			}
			r, err := measure(o, p)
			if err != nil {
				fmt.Printf("%-18s skipped: %v\n", p.name, err)
				continue
			}
			refusals = append(refusals, r)
		}
		printTable(fmt.Sprintf("Round %d: refusals (nearly every request answered 429)", i), refusals, direct)
		rounds = append(rounds, append(results, refusals[1:]...))
	}
	if o.rounds > 1 {
		printMedians(rounds)
	}

	if o.idle > 0 && (only == nil || only.MatchString("levee-idle")) {
		if err := idleRSS(o); err != nil {
			fmt.Printf("idle RSS skipped: %v\n", err)
		}
	}
	return nil
}

func printHeader(o options) {
	fmt.Printf("gatewaybench %s\n", time.Now().UTC().Format(time.RFC3339))
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("loadavg: %s", b)
	}
	if out, err := exec.Command("uname", "-srm").Output(); err == nil {
		fmt.Printf("kernel: %s", out)
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				fmt.Println("cpu:", strings.TrimSpace(strings.SplitN(l, ":", 2)[1]))
				break
			}
		}
	}
	fmt.Printf("wrk -t1 -c%d -d%s (after a %s warm-up), upstream+wrk on core %s, proxy on core %s\n\n",
		o.conns, o.dur, o.warm, loadCore, proxyCore)
}

// proxy is one configuration to measure: files to write into the temporary
// directory, then a command to start on the proxy core.
type proxy struct {
	name  string
	files map[string]string
	argv  []string
	env   []string
}

func proxies(o options) []proxy {
	return []proxy{
		{name: "nginx", files: map[string]string{"nginx.conf": nginxConf(o.tmp, "")},
			argv: []string{"nginx", "-c", filepath.Join(o.tmp, "nginx.conf"), "-p", o.tmp}},
		{name: "haproxy", files: map[string]string{"haproxy.cfg": haproxyCfg},
			argv: []string{"haproxy", "-db", "-f", filepath.Join(o.tmp, "haproxy.cfg")}},
		{name: "caddy", files: map[string]string{"Caddyfile": caddyfile},
			argv: []string{"caddy", "run", "--adapter", "caddyfile", "--config", filepath.Join(o.tmp, "Caddyfile")},
			env:  []string{"HOME=" + o.tmp, "XDG_DATA_HOME=" + o.tmp, "XDG_CONFIG_HOME=" + o.tmp}},
		{name: "rproxy-pooled", argv: []string{o.self, "rproxy", proxyAddr, "http://" + upstreamAddr}},
		{name: "levee-plain", files: map[string]string{"plain.yaml": leveeConf("", false)},
			argv: []string{o.levee, "serve", "-c", filepath.Join(o.tmp, "plain.yaml")}},
		{name: "levee-allon", files: map[string]string{"allon.yaml": leveeConf(allOnPolicies, true)},
			argv: []string{o.levee, "serve", "-c", filepath.Join(o.tmp, "allon.yaml")}},
	}
}

func refusers(o options) []proxy {
	return []proxy{
		{name: "nginx-limit_req", files: map[string]string{"nginx-limit.conf": nginxConf(o.tmp, "limit_req zone=one;")},
			argv: []string{"nginx", "-c", filepath.Join(o.tmp, "nginx-limit.conf"), "-p", o.tmp}},
		{name: "levee-429", files: map[string]string{"refuse.yaml": leveeConf(refusePolicies, false)},
			argv: []string{o.levee, "serve", "-c", filepath.Join(o.tmp, "refuse.yaml")}},
	}
}

func nginxConf(tmp, limit string) string {
	return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log crit;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
  limit_req_status 429;
  upstream app { server %[2]s; keepalive 64; }
  server {
    listen %[3]s;
    location / {
      %[4]s
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`, tmp, upstreamAddr, proxyAddr, limit)
}

var haproxyCfg = fmt.Sprintf(`global
  nbthread 1
  maxconn 5000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind %s
  default_backend be
backend be
  server s1 %s
`, proxyAddr, upstreamAddr)

var caddyfile = fmt.Sprintf(`{
  admin off
  auto_https off
}
http://%s {
  reverse_proxy %s
}
`, proxyAddr, upstreamAddr)

const allOnPolicies = `    policies:
      rate_limit:
        rate: 10000000/s
        burst: 1000000
      concurrency:
        adaptive:
          algorithm: gradient2
          min: 64
          max: 1000
      retry:
        attempts: 2
        budget:
          ratio: 20%
`

const refusePolicies = `    policies:
      rate_limit:
        rate: 1/m
        burst: 1
`

// leveeConf is a levee configuration with one route to the upstream, policies
// appended to it, the upstream behind a breaker when breaker, and an access log
// to a file when policies are all on. Metrics are always kept (admin API).
func leveeConf(policies string, allOn bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listeners:\n  - name: public\n    address: %q\nadmin:\n  address: %q\n", proxyAddr, adminAddr)
	fmt.Fprintf(&b, "upstreams:\n  - name: app\n    targets:\n      - url: http://%s\n", upstreamAddr)
	if allOn {
		b.WriteString("    breaker:\n      failure_rate: 50%\n      window: 10s\n      open_duration: 5s\n")
		b.WriteString("access_log:\n  path: access.log\n")
	}
	b.WriteString("routes:\n  - name: all\n    upstream: app\n    timeout: 10s\n")
	b.WriteString(policies)
	return b.String()
}

// process is a started child, stopped by its PID.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
}

func start(o options, name, core, addr string, argv ...string) (*process, error) {
	return startEnv(o, name, core, addr, nil, argv...)
}

func startEnv(o options, name, core, addr string, env []string, argv ...string) (*process, error) {
	if _, err := exec.LookPath(argv[0]); err != nil {
		return nil, fmt.Errorf("%s is not installed", argv[0])
	}
	logf, err := os.Create(filepath.Join(o.tmp, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("taskset", append([]string{"-c", core}, argv...)...)
	cmd.Dir = o.tmp
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &process{name: name, cmd: cmd, log: logf}
	// taskset execs the command in place: the PID is the proxy's own.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			b, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("%s did not listen on %s: %s", name, addr, lastLines(string(b), 5))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.log.Close()
}

func measure(o options, p proxy) (result, error) {
	for name, text := range p.files {
		if err := os.WriteFile(filepath.Join(o.tmp, name), []byte(text), 0o644); err != nil {
			return result{}, err
		}
	}
	proc, err := startEnv(o, p.name, proxyCore, proxyAddr, p.env, p.argv...)
	if err != nil {
		return result{}, err
	}
	defer proc.stop()
	return wrk(o, p.name, "http://"+proxyAddr+"/", proc)
}

var (
	reRPS = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reReq = regexp.MustCompile(`(\d+) requests in`)
	reNon = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	reLat = regexp.MustCompile(`(?m)^\s+(50|99)%\s+(\S+)`)
)

// wrk warms the path up, then runs wrk for o.dur on the load core and reads
// the proxy's CPU time around it.
func wrk(o options, name, target string, proc *process) (result, error) {
	args := func(d time.Duration) []string {
		return []string{"-c", loadCore, "wrk", "-t1", "-c" + strconv.Itoa(o.conns), "-d" + d.String(), "--latency", target}
	}
	if o.warm > 0 {
		if out, err := exec.Command("taskset", args(o.warm)...).CombinedOutput(); err != nil {
			return result{}, fmt.Errorf("wrk warm-up: %v: %s", err, out)
		}
	}
	r := result{name: name, secs: o.dur.Seconds()}
	var before int64
	if proc != nil {
		t, err := cpuTicks(proc.pid())
		if err != nil {
			return r, err
		}
		before, r.hasCPU = t, true
	}
	out, err := exec.Command("taskset", args(o.dur)...).CombinedOutput()
	if err != nil {
		return r, fmt.Errorf("wrk: %v: %s", err, out)
	}
	if proc != nil {
		after, err := cpuTicks(proc.pid())
		if err != nil {
			return r, err
		}
		r.cpuTicks = after - before
	}
	s := string(out)
	fmt.Printf("--- %s: wrk %s\n%s", name, strings.Join(args(o.dur)[2:], " "), s)
	if m := reRPS.FindStringSubmatch(s); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reReq.FindStringSubmatch(s); m != nil {
		r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reNon.FindStringSubmatch(s); m != nil {
		r.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	for _, m := range reLat.FindAllStringSubmatch(s, -1) {
		if m[1] == "50" {
			r.p50 = m[2]
		} else {
			r.p99 = m[2]
		}
	}
	if r.requests == 0 {
		return r, fmt.Errorf("wrk counted no requests: %s", s)
	}
	if proc != nil {
		fmt.Printf("proxy CPU: %d ticks (%.2fs)\n\n", r.cpuTicks, float64(r.cpuTicks)/clockTicks)
	} else {
		fmt.Println()
	}
	return r, nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on Linux.
const clockTicks = 100

// cpuTicks reads utime+stime of every thread of pid from /proc/PID/stat.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(s[i+1:])
	// After "pid (comm)", field 3 is state at f[0]; utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return ut + st, nil
}

func printTable(title string, rs []result, direct result) {
	fmt.Printf("== %s\n", title)
	fmt.Printf("%-16s %10s %8s %8s %10s %6s %9s %9s %12s\n", "proxy", "req/s", "x direct", "non-2xx", "CPU µs/req", "core%", "p50", "p99", "CPU x nginx")
	var nginxCPU float64
	for _, r := range rs {
		if r.name == "nginx" || r.name == "nginx-limit_req" {
			nginxCPU = cpuPerReq(r)
		}
	}
	for _, r := range rs {
		cpu, vsNginx, core := "-", "-", "-"
		if r.hasCPU {
			c := cpuPerReq(r)
			cpu = fmt.Sprintf("%.1f", c)
			core = fmt.Sprintf("%.0f", float64(r.cpuTicks)/clockTicks/r.secs*100)
			if nginxCPU > 0 {
				vsNginx = fmt.Sprintf("%.2f", c/nginxCPU)
			}
		}
		fmt.Printf("%-16s %10.0f %8.2f %8d %10s %6s %9s %9s %12s\n", r.name, r.rps, r.rps/direct.rps, r.non2xx, cpu, core, r.p50, r.p99, vsNginx)
	}
	fmt.Println()
}

func cpuPerReq(r result) float64 {
	return float64(r.cpuTicks) / clockTicks * 1e6 / float64(r.requests)
}

// idleRSS starts levee (plain route), reads its VmRSS after a warm-up, opens
// o.idle keep-alive connections that each make one request and then stay
// idle, and reads VmRSS again.
func idleRSS(o options) error {
	p := proxies(o)[4] // levee-plain
	for name, text := range p.files {
		if err := os.WriteFile(filepath.Join(o.tmp, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	proc, err := startEnv(o, "levee-idle", proxyCore, proxyAddr, nil, p.argv...)
	if err != nil {
		return err
	}
	defer proc.stop()
	// Warm the process up so the baseline includes its steady-state heap.
	if _, err := exec.Command("taskset", "-c", loadCore, "wrk", "-t1", "-c32", "-d1s", "http://"+proxyAddr+"/").CombinedOutput(); err != nil {
		return fmt.Errorf("wrk warm-up: %w", err)
	}
	base, err := vmRSS(proc.pid())
	if err != nil {
		return err
	}
	conns := make([]net.Conn, 0, o.idle)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	req := []byte("GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var d net.Dialer
	for i := 0; i < o.idle; i++ {
		c, err := d.DialContext(ctx, "tcp", proxyAddr)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, c)
		if _, err := c.Write(req); err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("connection %d: status %d", i, resp.StatusCode)
		}
	}
	time.Sleep(2 * time.Second) // let the runtime settle
	after, err := vmRSS(proc.pid())
	if err != nil {
		return err
	}
	fmt.Printf("== levee RSS with %d idle keep-alive connections (plain route)\n", o.idle)
	fmt.Printf("VmRSS before: %d KB, after: %d KB, %.1f KB per connection\n\n",
		base, after, float64(after-base)/float64(o.idle))
	return nil
}

func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				return strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// raiseNoFile lifts the open-files limit to its hard maximum, for this
// process and the proxies it starts (the idle-connection figure needs 20,000
// descriptors across both ends).
func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}

// printMedians summarizes the rounds: for each proxy, the median over the
// rounds of its throughput ratio to that round's direct path, of its CPU per
// request, and of that CPU's ratio to the same round's nginx figure (nginx
// for proxies, nginx-limit_req for refusals).
func printMedians(rounds [][]result) {
	type agg struct{ xDirect, cpu, xNginx []float64 }
	var names []string
	m := map[string]*agg{}
	for _, rs := range rounds {
		direct := rs[0]
		nginx := map[bool]float64{}
		for _, r := range rs {
			if r.name == "nginx" {
				nginx[false] = cpuPerReq(r)
			}
			if r.name == "nginx-limit_req" {
				nginx[true] = cpuPerReq(r)
			}
		}
		for _, r := range rs {
			a := m[r.name]
			if a == nil {
				a = &agg{}
				m[r.name] = a
				names = append(names, r.name)
			}
			a.xDirect = append(a.xDirect, r.rps/direct.rps)
			if r.hasCPU {
				c := cpuPerReq(r)
				a.cpu = append(a.cpu, c)
				refusal := strings.Contains(r.name, "limit_req") || strings.Contains(r.name, "429")
				if n := nginx[refusal]; n > 0 {
					a.xNginx = append(a.xNginx, c/n)
				}
			}
		}
	}
	fmt.Printf("== Medians over %d rounds\n", len(rounds))
	fmt.Printf("%-16s %8s %10s %12s\n", "proxy", "x direct", "CPU µs/req", "CPU x nginx")
	for _, n := range names {
		a := m[n]
		fmt.Printf("%-16s %8.2f %10s %12s\n", n, median(a.xDirect), fmtMedian(a.cpu, "%.1f"), fmtMedian(a.xNginx, "%.2f"))
	}
	fmt.Println()
}

func fmtMedian(v []float64, format string) string {
	if len(v) == 0 {
		return "-"
	}
	return fmt.Sprintf(format, median(v))
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
