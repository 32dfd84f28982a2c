package proxy

import (
	"context"
	"net/http"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/retry"
)

// hedger is the innermost transport of a route with a hedge policy: when
// an idempotent read has no answer after the delay, it sends a copy to
// another target, up to max copies, and keeps the first answer that is not
// a failure; the others are cancelled. Each copy passes its target's
// breaker and is settled on its own: a cancelled copy counts for nothing.
//
// The hedge package's Hedger cannot serve here: it ends every attempt's
// context when the call returns, which would cut the winning answer's body
// while it streams to the client.
type hedger struct {
	delay    time.Duration
	max      int
	budget   retry.Budget // the retry budget when there is one; nil means none
	clk      clock.Clock
	upstream *upstream
}

func newHedger(hc config.Hedge, u *upstream, budget retry.Budget, clk clock.Clock) *hedger {
	return &hedger{delay: hc.Delay, max: max(hc.Max, 1), budget: budget, clk: clock.Or(clk), upstream: u}
}

// leg is one copy of a hedged request.
type leg struct {
	target *target
	permit levee.Permit
	cancel context.CancelFunc
	done   bool // its result arrived
	resp   *http.Response
	err    error
}

type legResult struct {
	i    int
	resp *http.Response
	err  error
}

// hedgeable reports whether req is a read that may be sent twice at once:
// GET, HEAD or OPTIONS without a body.
func hedgeable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return req.Body == nil || req.Body == http.NoBody
	}
	return false
}

// RoundTrip sends req to the target the request path admitted and, while
// no answer has come, a copy to another target after each delay.
func (h *hedger) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := exchangeOf(req)
	if ex == nil || ex.target == nil || !hedgeable(req) {
		return h.upstream.transport.RoundTrip(req)
	}
	legs := make([]*leg, 0, 1+h.max)
	results := make(chan legResult, 1+h.max) // never blocks a sender
	launch := func(t *target, pm levee.Permit) {
		ctx, cancel := context.WithCancel(req.Context())
		out := req.WithContext(ctx)
		if len(legs) > 0 {
			out = req.Clone(ctx)
			out.URL.Scheme, out.URL.Host = t.url.Scheme, t.url.Host
		}
		i := len(legs)
		legs = append(legs, &leg{target: t, permit: pm, cancel: cancel})
		go func() {
			resp, err := h.upstream.transport.RoundTrip(out)
			results <- legResult{i, resp, err}
		}()
	}
	launch(ex.target, ex.permit)
	timer := h.clk.NewTimer(h.delay)
	defer timer.Stop()
	timerC := timer.C()
	running := 1
	var last *leg
	for {
		select {
		case r := <-results:
			running--
			l := legs[r.i]
			l.done, l.resp, l.err = true, r.resp, r.err
			if r.err == nil && r.resp.StatusCode < 500 {
				return h.finish(req, ex, legs, l, running, results), nil
			}
			last = l
			if running > 0 {
				continue // another copy may still answer
			}
			// A failure starts no copy: retrying is the retry policy's job.
			return h.finish(req, ex, legs, l, running, results), l.err
		case <-timerC:
			timerC = nil
			if len(legs) > h.max {
				continue
			}
			tried := make([]*target, len(legs))
			for i, l := range legs {
				tried[i] = l.target
			}
			t, pm, err := h.upstream.admitOther(req, tried)
			if err != nil || contains(tried, t) || h.budget != nil && !h.budget.TryRetry() {
				if err == nil {
					pm.Record(levee.Outcome{Result: levee.Ignored})
				}
				if running == 0 {
					return h.finish(req, ex, legs, last, running, results), last.err
				}
				continue // no other target to try: wait for the copies out
			}
			t.active.Add(1)
			launch(t, pm)
			running++
			if len(legs) <= h.max {
				timer.Reset(h.delay)
				timerC = timer.C()
			}
		case <-req.Context().Done():
			// The route's time is up or the client left: every copy ends.
			for _, l := range legs {
				l.cancel()
			}
			r := <-results
			running--
			l := legs[r.i]
			l.done, l.resp, l.err = true, r.resp, r.err
			return h.finish(req, ex, legs, l, running, results), r.err
		}
	}
}

// finish makes win the request's attempt (the one the caller settles),
// settles every other copy, and hands the copies still running to a
// goroutine that closes their late answers.
func (h *hedger) finish(req *http.Request, ex *exchange, legs []*leg, win *leg, running int, results chan legResult) *http.Response {
	for _, l := range legs {
		if l == win {
			continue
		}
		l.cancel()
		l.target.active.Add(-1)
		switch {
		case !l.done: // cancelled: it says nothing about its target
			l.permit.Record(levee.Outcome{Result: levee.Ignored})
		case l.err != nil:
			settle(req, h.upstream, l.target, l.permit, classify(l.err, nil).status, false)
		default:
			drain(l.resp.Body)
			settle(req, h.upstream, l.target, l.permit, l.resp.StatusCode, false)
		}
	}
	// The winner's in-flight count stays: the caller ends it with the
	// request.
	ex.target, ex.permit = win.target, win.permit
	if running > 0 {
		go func() {
			for range running {
				if r := <-results; r.resp != nil {
					drain(r.resp.Body)
				}
			}
		}()
	}
	if win.resp == nil {
		win.cancel()
		return nil
	}
	win.resp.Body = withCancel(win.resp.Body, func(error) { win.cancel() })
	return win.resp
}

var _ http.RoundTripper = (*hedger)(nil)
