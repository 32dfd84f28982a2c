package concurrency_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/concurrency"
)

// modelWaiter is a call the test started that is queued in the bulkhead.
type modelWaiter struct {
	id     int
	cancel context.CancelFunc
	res    <-chan acquired
}

// bulkheadModel replays operations on a real bulkhead and on a plain model
// of the specification, and compares them after every step: the counts,
// and which queued calls were admitted (oldest first) or left.
type bulkheadModel struct {
	t        *testing.T
	b        *concurrency.Bulkhead
	maxQueue int
	limit    int
	held     []levee.Permit // admitted calls, oldest first
	queue    []modelWaiter  // queued calls, oldest first
	nextID   int
}

func (m *bulkheadModel) acquire() {
	ctx, cancel := context.WithCancel(context.Background())
	res := acquireAsync(ctx, m.b)
	switch {
	case len(m.queue) == 0 && len(m.held) < m.limit:
		a := recv(m.t, res)
		if a.err != nil {
			m.t.Fatalf("Acquire() with %d of %d running = %v, want admission", len(m.held), m.limit, a.err)
		}
		cancel()
		m.held = append(m.held, a.p)
	case len(m.queue) < m.maxQueue:
		m.nextID++
		m.queue = append(m.queue, modelWaiter{id: m.nextID, cancel: cancel, res: res})
		eventually(m.t, "call to queue", func() bool { return m.b.Queued() == len(m.queue) })
	default:
		a := recv(m.t, res)
		cancel()
		if !errors.Is(a.err, levee.ErrBulkheadFull) {
			m.t.Fatalf("Acquire() with a full queue = %v, want ErrBulkheadFull", a.err)
		}
	}
}

// grant admits queued calls, oldest first, while the limit allows.
func (m *bulkheadModel) grant() {
	for len(m.queue) > 0 && len(m.held) < m.limit {
		m.admitHead()
	}
}

func (m *bulkheadModel) admitHead() {
	w := m.queue[0]
	m.queue = m.queue[1:]
	a := recv(m.t, w.res)
	w.cancel()
	if a.err != nil {
		m.t.Fatalf("queued call %d = %v, want admission", w.id, a.err)
	}
	m.held = append(m.held, a.p)
}

func (m *bulkheadModel) release(i int) {
	if len(m.held) == 0 {
		return
	}
	i %= len(m.held)
	p := m.held[i]
	m.held = append(m.held[:i], m.held[i+1:]...)
	p.Done(nil)
	m.grant()
}

func (m *bulkheadModel) leave(i int) {
	if len(m.queue) == 0 {
		return
	}
	i %= len(m.queue)
	w := m.queue[i]
	m.queue = append(m.queue[:i], m.queue[i+1:]...)
	w.cancel()
	if a := recv(m.t, w.res); !errors.Is(a.err, context.Canceled) {
		m.t.Fatalf("cancelled queued call %d = %v, want context.Canceled", w.id, a.err)
	}
}

func (m *bulkheadModel) setLimit(n int) {
	if err := m.b.SetLimit(n); err != nil {
		m.t.Fatalf("SetLimit(%d) = %v", n, err)
	}
	m.limit = n
	m.grant()
}

func (m *bulkheadModel) check(step int) {
	m.t.Helper()
	if got, want := m.b.InFlight(), len(m.held); got != want {
		m.t.Fatalf("step %d: InFlight() = %d, want %d", step, got, want)
	}
	if got, want := m.b.Queued(), len(m.queue); got != want {
		m.t.Fatalf("step %d: Queued() = %d, want %d", step, got, want)
	}
	if got := m.b.Limit(); got != m.limit {
		m.t.Fatalf("step %d: Limit() = %d, want %d", step, got, m.limit)
	}
	for _, w := range m.queue {
		select {
		case a := <-w.res:
			m.t.Fatalf("step %d: queued call %d returned %v, want it still waiting", step, w.id, a.err)
		default:
		}
	}
}

func (m *bulkheadModel) close() {
	for _, w := range m.queue {
		w.cancel()
		<-w.res
	}
	for _, p := range m.held {
		p.Done(nil)
	}
}

// runModel interprets ops two bytes at a time: an operation and its
// argument.
func runModel(t *testing.T, ops []byte) {
	const maxQueue = 3
	b := newBulkhead(t, concurrency.BulkheadConfig{MaxConcurrent: 2, MaxQueue: maxQueue, MaxWait: time.Hour})
	m := &bulkheadModel{t: t, b: b, maxQueue: maxQueue, limit: 2}
	defer m.close()
	if len(ops) > 80 {
		ops = ops[:80]
	}
	for i := 0; i+1 < len(ops); i += 2 {
		arg := int(ops[i+1])
		switch ops[i] % 4 {
		case 0:
			m.acquire()
		case 1:
			m.release(arg)
		case 2:
			m.leave(arg)
		case 3:
			m.setLimit(1 + arg%4)
		}
		m.check(i / 2)
	}
}

func TestBulkheadModel(t *testing.T) {
	tests := []struct {
		name string
		ops  []byte
	}{
		{"fill and drain", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0}},
		{"leave from the middle", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 1, 1, 1, 0, 1, 0}},
		{"raise then lower", []byte{0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0}},
		{"lower below running", []byte{0, 0, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 1, 0, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runModel(t, tt.ops) })
	}
}

func FuzzBulkheadModel(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 1, 1, 1, 0, 1, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 1, 0, 1, 0})
	f.Fuzz(runModel)
}
