package leveesql_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/levee-go/levee/leveesql"
)

// watched records what is watched, as observe.Metrics would export it, and
// refuses the same quantity twice as observe.Metrics does.
type watched map[string]func() float64

func (w watched) Watch(policy, name, quantity string, fn func() float64) error {
	k := policy + "/" + name + "/" + quantity
	if _, ok := w[k]; ok {
		return fmt.Errorf("%s watched twice", k)
	}
	w[k] = fn
	return nil
}

func (w watched) value(t *testing.T, k string) float64 {
	t.Helper()
	fn, ok := w[k]
	if !ok {
		t.Fatalf("%s not watched; watched: %v", k, w)
	}
	return fn()
}

func TestWatchPools(t *testing.T) {
	pool := requirePool(t, 3)
	db := requireDB(t, pool, 5)
	w := watched{}
	if err := leveesql.WatchPgxPool(w, "main", pool); err != nil {
		t.Fatalf("WatchPgxPool: %v", err)
	}
	if err := leveesql.WatchDB(w, "main-sql", db); err != nil {
		t.Fatalf("WatchDB: %v", err)
	}
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sqlConn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key  string
		want float64
	}{
		{"pool/main/max_conns", 3},
		{"pool/main/in_use_conns", 1},
		{"pool/main-sql/max_conns", 5},
		{"pool/main-sql/in_use_conns", 1},
		{"pool/main-sql/open_conns", 1},
	} {
		if got := w.value(t, tt.key); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.key, got, tt.want)
		}
	}
	conn.Release()
	sqlConn.Close()
	for _, k := range []string{"pool/main/in_use_conns", "pool/main-sql/in_use_conns"} {
		if got := w.value(t, k); got != 0 {
			t.Errorf("%s after release = %v, want 0", k, got)
		}
	}
	for _, k := range []string{"pool/main/open_conns", "pool/main/idle_conns", "pool/main/wait_count", "pool/main/wait_seconds",
		"pool/main-sql/idle_conns", "pool/main-sql/wait_count", "pool/main-sql/wait_seconds"} {
		if got := w.value(t, k); got < 0 {
			t.Errorf("%s = %v, want at least 0", k, got)
		}
	}
	if err := leveesql.WatchPgxPool(w, "main", pool); err == nil || !strings.Contains(err.Error(), "pool/main/open_conns watched twice") {
		t.Errorf("WatchPgxPool twice = %v, want the Watcher's errors", err)
	}
	if err := leveesql.WatchDB(nil, "x", db); err == nil {
		t.Error("WatchDB(nil Watcher) = nil, want an error")
	}
	if err := leveesql.WatchPgxPool(w, "x", nil); err == nil {
		t.Error("WatchPgxPool(nil pool) = nil, want an error")
	}
}
