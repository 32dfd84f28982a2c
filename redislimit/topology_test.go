package redislimit_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/redislimit"
	"github.com/redis/go-redis/v9"
)

// checkBurst takes burst+1 tokens from each key and expects exactly the
// burst, decided by Redis.
func checkBurst(t *testing.T, l *redislimit.Limiter, burst int, keys ...string) {
	t.Helper()
	ctx := context.Background()
	for _, key := range keys {
		admitted := 0
		for range burst + 1 {
			d, err := redislimit.DecideForTest(l, ctx, key)
			if err != nil || d.Source != redislimit.SourceRedis {
				t.Fatalf("AllowKey(%s) = %+v, %v; want a redis decision", key, d, err)
			}
			if d.Allowed {
				admitted++
			}
		}
		if admitted != burst {
			t.Errorf("AllowKey(%s) admitted %d of %d, want %d", key, admitted, burst+1, burst)
		}
	}
}

// TestCluster runs the limiter on a three-node Redis Cluster of the test's
// own: keys land on different nodes, each node learns the script on first
// use, and decisions stay exact.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster (about 5s)")
	}
	cli := lookPath(t, "redis-cli")
	dir := t.TempDir()
	var addrs []string
	for i := range 3 {
		port := freePort(t)
		startRedisServer(t, port, "--cluster-enabled", "yes", "--dir", dir,
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("node%d.conf", i)))
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { cc.Close() })
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := cc.ClusterInfo(ctx).Result()
		if err == nil && len(info) > 0 && strings.Contains(info, "cluster_state:ok") {
			if err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() }); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ready: %v %q", err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var u redis.UniversalClient = cc
	l, err := redislimit.New(redislimit.Config{Client: u, Limit: 3, Period: time.Hour, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 12)
	nodes := map[string]bool{}
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d", i)
		n, _ := cc.MasterForKey(ctx, "levee:rl:{"+keys[i]+"}")
		if n != nil {
			nodes[n.Options().Addr] = true
		}
	}
	if len(nodes) < 2 {
		t.Fatalf("12 keys landed on %d nodes, want several", len(nodes))
	}
	h := &countHook{}
	cc.AddHook(h)
	checkBurst(t, l, 3, keys...)
	// Each node learns the script once (EVALSHA refused, then EVAL); every
	// other decision is one EVALSHA.
	if e, s := h.count("eval"), h.count("evalsha"); e > int64(len(nodes)) || s != int64(4*len(keys)) {
		t.Errorf("eval %d, evalsha %d; want at most %d (one per node) and %d", e, s, len(nodes), 4*len(keys))
	}

	// Batches: one pipeline spans the nodes, and nodes that lost the
	// script answer NOSCRIPT for their part only.
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		return c.ScriptFlush(ctx).Err()
	}); err != nil {
		t.Fatal(err)
	}
	lb, err := redislimit.New(redislimit.Config{Client: u, Limit: 3, Period: time.Hour, Timeout: 2 * time.Second,
		Prefix: "levee:batch:", MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, errs := redislimit.BatchForTest(ctx, lb, keys, 1, 1)
	for i := range keys {
		if errs[i] != nil || res[i].Granted != 1 || res[i].Remaining != 2 {
			t.Errorf("batched decision for %s = %+v, %v; want granted 1, remaining 2", keys[i], res[i], errs[i])
		}
	}
	// Concurrent callers of every key, queued behind one round trip: each
	// key still admits exactly its burst (3, one of which the batch took).
	piped := h.count("piped evalsha")
	var admitted [12]atomic.Int64
	var wg sync.WaitGroup
	for i := range keys {
		for range 6 {
			wg.Go(func() {
				d, err := redislimit.DecideForTest(lb, ctx, keys[i])
				if err != nil || d.Source != redislimit.SourceRedis {
					t.Errorf("AllowKey(%s) = %+v, %v; want a redis decision", keys[i], d, err)
				}
				if d.Allowed {
					admitted[i].Add(1)
				}
			})
		}
	}
	wg.Wait()
	for i := range keys {
		if n := admitted[i].Load(); n != 2 {
			t.Errorf("%s: %d of 6 concurrent calls admitted, want 2", keys[i], n)
		}
	}
	if h.count("piped evalsha") == piped {
		t.Error("72 concurrent decisions behind one round trip made no pipeline")
	}
}

// TestSentinel runs the limiter through a Sentinel-managed failover client.
func TestSentinel(t *testing.T) {
	masterPort := freePort(t)
	startRedisServer(t, masterPort)
	sentinelPort := freePort(t)
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor levee 127.0.0.1 %d 1\n", sentinelPort, masterPort)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	startRedisProcess(t, sentinelPort, conf, "--sentinel", "--loglevel", "warning")
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "levee",
		SentinelAddrs: []string{"127.0.0.1:" + strconv.Itoa(sentinelPort)}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { fc.Close() })
	l, err := redislimit.New(redislimit.Config{Client: fc, Limit: 4, Period: time.Hour, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	checkBurst(t, l, 4, "a", "b")
}
