package ratelimit

import (
	"fmt"
	"strconv"
	"time"
)

// Rate is a number of events per period: Rate{Events: 100, Per: time.Minute}
// admits 100 calls a minute. Keeping both integers (rather than a float of
// events per second) keeps the limiters' arithmetic exact in nanoseconds and
// maps straight onto the HTTP quota fields (q=100;w=60).
//
// The zero Rate means no limit: every call is admitted.
type Rate struct {
	// Events is how many events the period allows. Zero means no limit.
	Events int
	// Per is the period. Zero (with Events > 0) means one second.
	Per time.Duration
}

// PerSecond returns a rate of n events a second.
func PerSecond(n int) Rate { return Rate{Events: n, Per: time.Second} }

// PerMinute returns a rate of n events a minute.
func PerMinute(n int) Rate { return Rate{Events: n, Per: time.Minute} }

// Every returns a rate of one event every d.
func Every(d time.Duration) Rate { return Rate{Events: 1, Per: d} }

// Unlimited reports whether r admits every call.
func (r Rate) Unlimited() bool { return r.Events == 0 }

// Interval returns the time one event costs: Per/Events, truncated to the
// nanosecond (so at most one nanosecond of rate is lost per event). It is
// zero for an unlimited rate.
func (r Rate) Interval() time.Duration {
	if r.Events <= 0 {
		return 0
	}
	return r.period() / time.Duration(r.Events)
}

func (r Rate) period() time.Duration {
	if r.Per == 0 {
		return time.Second
	}
	return r.Per
}

// String formats the rate as "100/1m0s", or "unlimited".
func (r Rate) String() string {
	if r.Unlimited() {
		return "unlimited"
	}
	return strconv.Itoa(r.Events) + "/" + r.period().String()
}

// maxSpan bounds every duration the limiters compute (burst × interval,
// warm-up cold intervals) so that the nanosecond arithmetic, which adds a
// few of them to a clock reading, cannot overflow int64: about 36 years.
const maxSpan = int64(1) << 60

// validate checks r for field (the name of the configuration field that
// holds it, for the error).
func (r Rate) validate(field string) error {
	switch {
	case r.Events < 0:
		return fmt.Errorf("ratelimit: %s.Events = %d, want >= 0", field, r.Events)
	case r.Per < 0:
		return fmt.Errorf("ratelimit: %s.Per = %v, want >= 0", field, r.Per)
	case r.Events > 0 && r.Interval() <= 0:
		return fmt.Errorf("ratelimit: %s = %v is faster than one event a nanosecond", field, r)
	}
	return nil
}
