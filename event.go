package levee

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// EventKind names what happened in an [Event].
type EventKind uint8

// The kinds of event policies emit.
const (
	// EventStateChange: a policy moved between states (a breaker opening,
	// an alert firing). From, To and Reason say how and why; Value and
	// Threshold carry the measurement that caused it.
	EventStateChange EventKind = iota + 1
	// EventRejected: a gate refused a call. Err is the rejection; Wait is
	// its retry-after when known.
	EventRejected
	// EventRetry: a retry will be made after Wait. Attempt is the attempt
	// that failed; Reason says why the delay was chosen.
	EventRetry
	// EventLimitChange: an adaptive limit or a rate changed. Value is the
	// new limit, Threshold the old one.
	EventLimitChange
	// EventFallback: a fallback replaced the result of a call. Reason names
	// the trigger; Err is the error it replaced.
	EventFallback
	// EventPanic: the guarded call panicked. Err is a [*PanicError] with the
	// value and the stack.
	EventPanic
	// EventHedge: a hedged attempt was started. Attempt is its number.
	EventHedge
	// EventInfo: anything else worth a log line (a limiter falling back to
	// local state, a budget running out). Reason says what.
	EventInfo
)

// String returns the kind's name in snake case, for logs and metric labels.
func (k EventKind) String() string {
	switch k {
	case EventStateChange:
		return "state_change"
	case EventRejected:
		return "rejected"
	case EventRetry:
		return "retry"
	case EventLimitChange:
		return "limit_change"
	case EventFallback:
		return "fallback"
	case EventPanic:
		return "panic"
	case EventHedge:
		return "hedge"
	case EventInfo:
		return "info"
	}
	return "unknown"
}

// Event is one thing a policy reports to its listeners. It is a plain value
// so that emitting it costs no allocation; fields that do not apply to a kind
// are zero.
type Event struct {
	Kind EventKind
	// Policy is the kind of policy: "breaker", "ratelimit", "retry", …
	Policy string
	// Name is the policy's configured name (may be empty).
	Name string
	// Time is when it happened, on the policy's clock.
	Time time.Time

	// From and To are the states of a state change (for a rejection,
	// From is the state that refused).
	From, To string
	// Reason is why, as a snake-case word the emitting package defines
	// (for example breaker.ReasonFailureRate).
	Reason string
	// Value is the quantity measured and Threshold the limit it was
	// compared with (for EventLimitChange: the new and the old limit). The
	// two always share one unit, the unit of the quantity:
	//
	//   - a share of calls is a percentage, 0–100 (failure and slow-call
	//     rates, a probability of rejection, a ramp's admitted share, a
	//     fault's probability), as in every Config of Levee;
	//   - a number of calls is a count (consecutive failures, probes, calls
	//     in flight, a concurrency limit);
	//   - a rate limit is in calls per second;
	//   - an SLO burn rate is a multiple of the rate that spends the budget
	//     exactly over its window.
	//
	// Each package's documentation says which it emits for each Reason.
	Value     float64
	Threshold float64
	// Wait is a duration the event carries: the retry-after of a
	// rejection, the delay before a retry, the open wait of a breaker.
	Wait time.Duration
	// Attempt is the number of the attempt a retry or hedge event is
	// about, starting at 1.
	Attempt int
	// Err is the error the event is about: the rejection, the failure
	// that caused a transition, the error a fallback replaced.
	Err error
	// Context is the context of the call the event happened on (a
	// rejection, a retry, a fallback, a panic), so listeners can reach the
	// active trace span; nil for events that belong to no call, such as a
	// breaker opening on schedule.
	Context context.Context
}

// A Listener receives events. Listeners are called synchronously, outside
// any lock of the policy, from the goroutine that caused the event: they must
// be cheap and must not block. Hand slow work to a goroutine of your own.
type Listener func(Event)

// Listeners is a set of listeners that a policy embeds. Adding and removing
// are rare and copy the set; emitting is a single atomic load, and when no
// listener is registered [Listeners.Active] lets the policy skip building the
// event at all. The zero value is an empty set ready to use.
type Listeners struct {
	mu   sync.Mutex
	next uint64
	set  atomic.Pointer[[]listenerEntry]
}

type listenerEntry struct {
	id uint64
	fn Listener
}

// Add registers fn and returns a function that removes it.
func (l *Listeners) Add(fn Listener) (remove func()) {
	if fn == nil {
		return func() {}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	id := l.next
	var cur []listenerEntry
	if p := l.set.Load(); p != nil {
		cur = *p
	}
	nxt := make([]listenerEntry, len(cur), len(cur)+1)
	copy(nxt, cur)
	nxt = append(nxt, listenerEntry{id, fn})
	l.set.Store(&nxt)
	return func() { l.remove(id) }
}

func (l *Listeners) remove(id uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.set.Load()
	if p == nil {
		return
	}
	nxt := make([]listenerEntry, 0, len(*p))
	for _, e := range *p {
		if e.id != id {
			nxt = append(nxt, e)
		}
	}
	l.set.Store(&nxt)
}

// Active reports whether any listener is registered.
func (l *Listeners) Active() bool {
	p := l.set.Load()
	return p != nil && len(*p) > 0
}

// Emit calls every listener with e, in the order they were added.
func (l *Listeners) Emit(e Event) {
	p := l.set.Load()
	if p == nil {
		return
	}
	for _, entry := range *p {
		entry.fn(e)
	}
}
