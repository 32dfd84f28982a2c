package redislimit_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// mainRedis is the Redis the tests share with the rest of the machine. The
// tests only touch keys under their own prefix.
const mainRedis = "127.0.0.1:6379"

// requireRedis returns a client of the main Redis, or skips the test (fails
// it when CI is set) when nothing answers there.
func requireRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	c := newClient(tb, mainRedis)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("Redis at %s is required in CI: %v", mainRedis, err)
		}
		tb.Skipf("Redis at %s not reachable (%v); start one to run this test", mainRedis, err)
	}
	return c
}

// newClient returns a client that honours context deadlines, as the limiter
// requires, closed at the end of the test.
func newClient(tb testing.TB, addr string) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	tb.Cleanup(func() { c.Close() })
	return c
}

// testPrefix returns a key prefix no other run uses, and deletes the keys
// under it at the end of the test.
func testPrefix(tb testing.TB, c *redis.Client) string {
	tb.Helper()
	p := fmt.Sprintf("levee:test:%d:%d:", os.Getpid(), time.Now().UnixNano())
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return p
}

// countHook counts the commands a client sends, one round trip each.
type countHook struct {
	cmds  atomic.Int64 // round trips: commands sent alone, and pipelines
	names sync.Map     // name, or "piped " + name in a pipeline -> *atomic.Int64
}

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.cmds.Add(1)
		v, _ := h.names.LoadOrStore(cmd.Name(), new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.cmds.Add(1)
		for _, cmd := range cmds {
			v, _ := h.names.LoadOrStore("piped "+cmd.Name(), new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
		}
		return next(ctx, cmds)
	}
}

func (h *countHook) count(name string) int64 {
	v, ok := h.names.Load(name)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// freePort returns a TCP port on loopback that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// redisServer is a redis-server child process of the test, so that it can be
// stopped and restarted without touching the machine's Redis.
type redisServer struct {
	tb   testing.TB
	port int
	cmd  *exec.Cmd
}

// startRedisServer starts a redis-server without persistence on port, or
// skips (fails in CI) when the binary is missing. Extra arguments follow
// the defaults.
func startRedisServer(tb testing.TB, port int, extra ...string) *redisServer {
	tb.Helper()
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"}, extra...)
	return startRedisProcess(tb, port, args...)
}

// startRedisProcess runs redis-server with args and waits for port to accept
// connections.
func startRedisProcess(tb testing.TB, port int, args ...string) *redisServer {
	tb.Helper()
	bin := lookPath(tb, "redis-server")
	s := &redisServer{tb: tb, port: port}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, io.Discard
	if err := s.cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	tb.Cleanup(s.stop)
	addr := s.addr()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redis-server on %s did not start: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lookPath finds a Redis tool, or skips (fails in CI) when it is missing.
func lookPath(tb testing.TB, name string) string {
	tb.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is required in CI: %v", name, err)
		}
		tb.Skipf("%s not installed (%v)", name, err)
	}
	return bin
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// pause stops the server with SIGSTOP: it keeps its connections open and
// answers nothing, as a hung Redis does. stop resumes it first.
func (s *redisServer) pause() {
	s.tb.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.tb.Fatalf("SIGSTOP redis-server: %v", err)
	}
}

// stop kills the server and waits for it to exit; stopping twice is fine.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT)
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// slowProxy forwards TCP connections to a target, delaying every chunk the
// server sends by the current delay.
type slowProxy struct {
	ln     net.Listener
	target string
	delay  atomic.Int64
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startProxy(tb testing.TB, target string) *slowProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &slowProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	tb.Cleanup(p.close)
	return p
}

func (p *slowProxy) addr() string             { return p.ln.Addr().String() }
func (p *slowProxy) setDelay(d time.Duration) { p.delay.Store(int64(d)) }

func (p *slowProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(s, c); s.Close() }()
		go func() { defer p.wg.Done(); p.copySlow(c, s); c.Close() }()
	}
}

func (p *slowProxy) copySlow(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if d := time.Duration(p.delay.Load()); d > 0 {
				time.Sleep(d)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *slowProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
