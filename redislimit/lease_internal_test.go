package redislimit

import (
	"testing"
	"time"
)

// TestLeaseTableKeepsRefillingEntries: a sweep of a full table drops idle
// keys, but not one whose lease is being refilled, though its last lease has
// expired: its callers wait on that entry for the refill's answer.
func TestLeaseTableKeepsRefillingEntries(t *testing.T) {
	tab := newLeaseTable(1, time.Millisecond)
	a := tab.get("a", 0)
	a.refill = &refill{done: make(chan struct{})}
	later := int64(time.Second)
	if e := tab.get("b", later); e != nil {
		t.Fatalf("get(b) with a's refill out = %p, want nil (table full, a kept)", e)
	}
	if e := tab.get("a", later); e != a {
		t.Fatalf("get(a) = %p, want the refilling entry %p", e, a)
	}
	a.refill = nil
	if e := tab.get("b", 2*later); e == nil {
		t.Fatal("get(b) once a is idle = nil, want a new entry (a swept)")
	}
}
