// Package etcdtest starts a real etcd server for tests: Debian's
// etcd-server binary (/usr/bin/etcd, or $LEVEE_ETCD_BINARY) on free
// loopback ports with a temporary data directory, stopped by its pid when
// the test ends. Without the binary a test fails when CI=true and is
// skipped, saying why, elsewhere.
package etcdtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdBinary is where Debian's etcd-server package installs the server.
const etcdBinary = "/usr/bin/etcd"

// Server is a real etcd server a test started on loopback, in a
// temporary data directory; it is stopped by its pid.
type Server struct {
	t        testing.TB
	bin, dir string
	// URL is the client URL, such as http://127.0.0.1:40123.
	URL        string
	clientPort int
	peerPort   int
	cmd        *exec.Cmd
	exited     chan struct{}
	kv         *clientv3.Client
}

// binary returns the etcd binary, or fails the test under CI and skips
// it elsewhere when there is none.
func binary(t testing.TB) string {
	t.Helper()
	bin := etcdBinary
	if p := os.Getenv("LEVEE_ETCD_BINARY"); p != "" {
		bin = p
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("etcd server %s not found (%v): CI must provide it (.ci/run installs Debian's etcd-server)", bin, err)
		}
		t.Skipf("etcd server %s not found (%v): install Debian's etcd-server (apt-get install -y etcd-server) to run this test", bin, err)
	}
	return bin
}

// freePort returns a loopback port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts a single-member etcd on two free loopback ports and waits
// until it answers. It is stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	e := &Server{t: t, bin: binary(t), dir: filepath.Join(t.TempDir(), "etcd"),
		clientPort: freePort(t), peerPort: freePort(t)}
	e.URL = fmt.Sprintf("http://127.0.0.1:%d", e.clientPort)
	e.Restart()
	t.Cleanup(func() {
		e.Stop()
		if e.kv != nil {
			e.kv.Close()
		}
	})
	kv, err := clientv3.New(clientv3.Config{Endpoints: []string{e.URL}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	e.kv = kv
	return e
}

// Restart runs the server again after [Server.Stop], on the same ports
// and data, and waits until it answers.
func (e *Server) Restart() {
	e.t.Helper()
	peer := fmt.Sprintf("http://127.0.0.1:%d", e.peerPort)
	e.cmd = exec.Command(e.bin,
		"--name", "levee-test",
		"--data-dir", e.dir,
		"--listen-client-urls", e.URL, "--advertise-client-urls", e.URL,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "levee-test="+peer,
		"--logger", "zap", "--log-level", "error",
	)
	e.cmd.Env = append(os.Environ(), "ETCD_UNSUPPORTED_ARCH="+runtime.GOARCH)
	out, err := os.Create(filepath.Join(filepath.Dir(e.dir), "etcd.log"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.cmd.Stdout, e.cmd.Stderr = out, out
	if err := e.cmd.Start(); err != nil {
		if os.Getenv("CI") == "true" {
			e.t.Fatalf("starting %s: %v", e.bin, err)
		}
		e.t.Skipf("cannot start %s: %v", e.bin, err)
	}
	e.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}, out *os.File) {
		cmd.Wait()
		out.Close()
		close(done)
	}(e.cmd, e.exited, out)

	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.clientPort), 200*time.Millisecond)
		if err == nil {
			c.Close()
			if e.healthy() {
				return
			}
		}
		select {
		case <-e.exited:
			log, _ := os.ReadFile(filepath.Join(filepath.Dir(e.dir), "etcd.log"))
			e.t.Fatalf("etcd exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			e.Stop()
			e.t.Fatalf("etcd did not answer on %s within 15s", e.URL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *Server) healthy() bool {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.URL}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		return false
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = c.Get(ctx, "health")
	return err == nil
}

// Stop ends the server by its pid: SIGTERM, then SIGKILL after 10s.
func (e *Server) Stop() {
	if e.cmd == nil || e.cmd.Process == nil {
		return
	}
	select {
	case <-e.exited:
		return
	default:
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(10 * time.Second):
		e.cmd.Process.Kill()
		<-e.exited
	}
}

// Put writes key and returns the revision that wrote it.
func (e *Server) Put(key, value string) int64 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := e.kv.Put(ctx, key, value)
	if err != nil {
		e.t.Fatalf("put %s: %v", key, err)
	}
	return resp.Header.Revision
}

// Compact compacts the store up to its current revision, which it
// returns.
func (e *Server) Compact() int64 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := e.kv.Get(ctx, "any")
	if err != nil {
		e.t.Fatalf("get: %v", err)
	}
	rev := resp.Header.Revision
	if _, err := e.kv.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		e.t.Fatalf("compact %d: %v", rev, err)
	}
	return rev
}
