package fallback

import (
	"errors"
	"strings"

	"github.com/levee-go/levee"
)

// Trigger is a set of outcomes that make a [Chain] use its fallbacks. Combine
// triggers with |.
type Trigger uint16

const (
	// OnFailure: the call failed, by the chain's classifier. Timeouts are
	// failures too.
	OnFailure Trigger = 1 << iota
	// OnTimeout: a Levee time limit ended the call ([levee.ErrTimeout]).
	OnTimeout
	// OnOpen: a circuit breaker refused the call ([levee.ErrOpen]).
	OnOpen
	// OnLimited: a rate limiter refused the call ([levee.ErrLimited]).
	OnLimited
	// OnBulkheadFull: a bulkhead refused the call ([levee.ErrBulkheadFull]).
	OnBulkheadFull
	// OnShed: a load shedder or adaptive limit refused the call
	// ([levee.ErrShed]).
	OnShed
	// OnBudgetExhausted: a retry was due but its budget refused it
	// ([levee.ErrBudgetExhausted]).
	OnBudgetExhausted
	// OnRejected: any rejection ([levee.ErrRejected]), including the five
	// above.
	OnRejected

	// DefaultTriggers is used when [Config.Triggers] is zero: any failure
	// and any rejection.
	DefaultTriggers = OnFailure | OnRejected
	// OnAny is every trigger.
	OnAny = OnFailure | OnTimeout | OnOpen | OnLimited | OnBulkheadFull | OnShed | OnBudgetExhausted | OnRejected
)

// triggerKinds maps each specific trigger to its sentinel and reason, most
// specific first.
var triggerKinds = [...]struct {
	t      Trigger
	err    error
	reason string
}{
	{OnTimeout, levee.ErrTimeout, "timeout"},
	{OnOpen, levee.ErrOpen, "open"},
	{OnLimited, levee.ErrLimited, "limited"},
	{OnBulkheadFull, levee.ErrBulkheadFull, "bulkhead-full"},
	{OnShed, levee.ErrShed, "shed"},
	{OnBudgetExhausted, levee.ErrBudgetExhausted, "budget-exhausted"},
}

// Match reports whether an error err, classified as r, is in the set, and
// names the outcome: "timeout", "open", "limited", "bulkhead-full", "shed",
// "budget-exhausted", "rejected" (another rejection) or "failure". A nil err
// matches nothing. Rejections are matched by their specific trigger or by
// OnRejected; a timeout by OnTimeout or, being a failure, by OnFailure.
func (t Trigger) Match(err error, r levee.Result) (reason string, ok bool) {
	if err == nil {
		return "", false
	}
	rejected := errors.Is(err, levee.ErrRejected)
	for _, k := range triggerKinds {
		if !errors.Is(err, k.err) {
			continue
		}
		switch {
		case t&k.t != 0:
			return k.reason, true
		case rejected && t&OnRejected != 0:
			return k.reason, true
		case !rejected && r == levee.Failure && t&OnFailure != 0:
			return k.reason, true
		}
		return "", false
	}
	if rejected {
		return "rejected", t&OnRejected != 0
	}
	return "failure", r == levee.Failure && t&OnFailure != 0
}

// String lists the set's triggers, joined by "|".
func (t Trigger) String() string {
	if t == 0 {
		return "none"
	}
	var b strings.Builder
	names := [...]string{"failure", "timeout", "open", "limited", "bulkhead-full", "shed", "budget-exhausted", "rejected"}
	for i, n := range names {
		if t&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(n)
		}
	}
	return b.String()
}
