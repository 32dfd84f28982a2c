package observe

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// SlogOptions configures [Slog]. The zero value is ready to use.
type SlogOptions struct {
	// RejectionInterval is the shortest time between two log lines about
	// rejections of one policy: the first rejection is logged at once, later
	// ones are counted and summarised in the next line. Zero means 10s.
	RejectionInterval time.Duration
	// Clock paces the rejection summaries. Nil means the real clock.
	Clock clock.Clock
}

// Slog returns a listener that logs to l (nil means slog.Default()): one
// line per state change (Info) and panic (Error, with the stack), and
// rejections as rate-limited bursts (Warn) so an outage does not flood the
// log. Retries, limit changes and other events are logged at Debug.
func Slog(l *slog.Logger, opts SlogOptions) levee.Listener {
	s := &slogListener{l: l, every: opts.RejectionInterval, clk: clock.Or(opts.Clock), bursts: map[[2]string]*burst{}}
	if s.every <= 0 {
		s.every = 10 * time.Second
	}
	return s.observe
}

type slogListener struct {
	l      *slog.Logger
	every  time.Duration
	clk    clock.Clock
	mu     sync.Mutex
	bursts map[[2]string]*burst
}

type burst struct {
	last       int64 // Nanotime of the last line
	suppressed int
}

func (s *slogListener) logger() *slog.Logger {
	if s.l != nil {
		return s.l
	}
	return slog.Default()
}

func (s *slogListener) observe(e levee.Event) {
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	l := s.logger()
	switch e.Kind {
	case levee.EventStateChange:
		attrs := []slog.Attr{slog.String("policy", e.Policy), slog.String("name", e.Name),
			slog.String("from", e.From), slog.String("to", e.To), slog.String("reason", e.Reason)}
		if e.Value != 0 || e.Threshold != 0 {
			attrs = append(attrs, slog.Float64("value", e.Value), slog.Float64("threshold", e.Threshold))
		}
		if e.Wait > 0 {
			attrs = append(attrs, slog.Duration("wait", e.Wait))
		}
		l.LogAttrs(ctx, slog.LevelInfo, "levee: state change", attrs...)
	case levee.EventPanic:
		attrs := []slog.Attr{slog.String("policy", e.Policy), slog.String("name", e.Name)}
		var pe *levee.PanicError
		if e.Err != nil {
			attrs = append(attrs, slog.String("panic", e.Err.Error()))
			if errors.As(e.Err, &pe) {
				attrs = append(attrs, slog.String("stack", string(pe.Stack)))
			}
		}
		l.LogAttrs(ctx, slog.LevelError, "levee: panic recovered", attrs...)
	case levee.EventRejected:
		key := [2]string{e.Policy, e.Name}
		now := s.clk.Nanotime()
		s.mu.Lock()
		b := s.bursts[key]
		if b == nil {
			b = &burst{last: now - int64(s.every)}
			s.bursts[key] = b
		}
		if now-b.last < int64(s.every) {
			b.suppressed++
			s.mu.Unlock()
			return
		}
		suppressed := b.suppressed
		b.suppressed, b.last = 0, now
		s.mu.Unlock()
		l.LogAttrs(ctx, slog.LevelWarn, "levee: rejecting calls", slog.String("policy", e.Policy),
			slog.String("name", e.Name), slog.String("reason", RejectionReason(e.Err)),
			slog.Int("rejected_since_last_line", suppressed+1))
	default:
		if !l.Enabled(ctx, slog.LevelDebug) {
			return
		}
		l.LogAttrs(ctx, slog.LevelDebug, "levee: "+e.Kind.String(), slog.String("policy", e.Policy),
			slog.String("name", e.Name), slog.String("reason", e.Reason), slog.Float64("value", e.Value),
			slog.Duration("wait", e.Wait), slog.Int("attempt", e.Attempt))
	}
}
