package etcdsource_test

import (
	"context"
	"sync"
	"testing"
	"time"
)

// applied records what a source delivered.
type applied struct {
	mu     sync.Mutex
	values []string
	revs   []int64
	refuse func(raw string) error
}

func (a *applied) apply(ctx context.Context, raw []byte, rev int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.values = append(a.values, string(raw))
	a.revs = append(a.revs, rev)
	if a.refuse != nil {
		return a.refuse(string(raw))
	}
	return nil
}

func (a *applied) snapshot() ([]string, []int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.values...), append([]int64(nil), a.revs...)
}

// waitFor polls cond (on the real clock: a real etcd is on the other end)
// for up to 20s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 20s waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
