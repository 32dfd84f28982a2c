package leveehttp

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/levee-go/levee"
)

// Options configures the gate and pipeline middleware. The zero value is
// ready to use.
type Options struct {
	// Classify turns the status a handler wrote into an outcome for the
	// gates. Nil means [ClassifyStatus]: 5xx is a failure, anything else a
	// success.
	Classify func(status int) levee.Result
	// Reject writes the response for a rejected request. Nil means
	// [WriteRejection], with a problem+json body when ProblemJSON is set.
	Reject func(w http.ResponseWriter, r *http.Request, err error)
	// ProblemJSON makes the default rejection body an RFC 9457
	// application/problem+json document instead of plain text.
	ProblemJSON bool
}

// ClassifyStatus is the default status classifier: 5xx responses are
// failures, every other status a success (a client error says nothing bad
// about the server).
func ClassifyStatus(status int) levee.Result {
	if status >= 500 {
		return levee.Failure
	}
	return levee.Success
}

func (o *Options) classify(status int) levee.Result {
	if o.Classify != nil {
		return o.Classify(status)
	}
	return ClassifyStatus(status)
}

func (o *Options) reject(w http.ResponseWriter, r *http.Request, err error) {
	if o.Reject != nil {
		o.Reject(w, r, err)
		return
	}
	WriteRejection(w, err, o.ProblemJSON)
}

// Gate returns middleware that admits each request through g and reports
// its outcome from the status the handler wrote. A rejected request gets
// opts.Reject's response (by default 429 or 503 with Retry-After; an error
// carrying its own status, a [levee.Fault] such as an injected fault's,
// gets that status: see [StatusFor]). A panic in the handler is recorded as a failure and
// passed on to the middleware above (see [Recover]). Gate allocates nothing
// per admitted request.
//
// When Acquire returns a [*levee.PanicError] (a fault injector's panic,
// which it returns rather than raises so that outer gates settle their
// permits), Gate raises it with its value, as [levee.Do] does: the request
// then ends as if the handler had panicked, so [Recover] answers 500, logs
// it and reports it, and without Recover the server drops the connection.
func Gate(g levee.Gate, opts Options) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			permit, err := g.Acquire(r.Context())
			if err != nil {
				refuse(w, r, err, &opts)
				return
			}
			if permit == (levee.Permit{}) {
				// A permit that settles to nothing (a rate limiter's)
				// needs no outcome: serve without a wrapper or a defer.
				next.ServeHTTP(w, r)
				return
			}
			serveGated(w, r, next, permit, &opts)
		})
	}
}

// A KeyedGate admits calls per key: a keyed rate limiter, a breaker per
// tenant. It is the one method [Keyed] needs.
type KeyedGate interface {
	AcquireKey(ctx context.Context, key string) (levee.Permit, error)
}

// Keyed returns middleware that admits each request through g under the key
// key(r) picks, such as [KeyRoute], [KeyHeader] or a [ClientIP] resolver.
// Refusals and returned panics are handled as in [Gate].
func Keyed(g KeyedGate, key func(*http.Request) string, opts Options) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			permit, err := g.AcquireKey(r.Context(), key(r))
			if err != nil {
				refuse(w, r, err, &opts)
				return
			}
			if permit == (levee.Permit{}) {
				next.ServeHTTP(w, r) // nothing to report, as in Gate
				return
			}
			serveGated(w, r, next, permit, &opts)
		})
	}
}

// refuse answers a request whose admission failed with err, raising a panic
// the gate returned as a [*levee.PanicError] as [levee.Do] would. The
// refusal is marked for outer gates (see [markRefused]) unless it is an
// injected fault's answer, which stands for a failing dependency.
func refuse(w http.ResponseWriter, r *http.Request, err error, opts *Options) {
	if pe, ok := errors.AsType[*levee.PanicError](err); ok {
		panic(pe.Value)
	}
	markRefusal(w, err)
	opts.reject(w, r, err)
}

// markRefusal marks w refused by a Levee policy with err, unless err is a
// [levee.Fault]: an injected answer is what the dependency would have said,
// and outer breakers are meant to see it.
func markRefusal(w http.ResponseWriter, err error) {
	if _, ok := errors.AsType[levee.Fault](err); !ok {
		markRefused(w)
	}
}

// outcome classifies the response rw holds: ignored when a Levee
// middleware inside refused the request, else opts' classification.
func (o *Options) outcome(rw *responseWriter) levee.Result {
	if rw.refused {
		return levee.Ignored
	}
	return o.classify(rw.Status())
}

func serveGated(w http.ResponseWriter, r *http.Request, next http.Handler, permit levee.Permit, opts *Options) {
	rw, owned := wrap(w)
	returned := false
	defer func() {
		// A handler that did not return panicked (or called
		// runtime.Goexit): record the failure and let the panic go on
		// unrecovered, with its own stack. Not recovering keeps the
		// common path free of recover and re-panic.
		if !returned {
			permit.Record(levee.Outcome{Result: levee.Failure, Err: errPanicked})
			if owned {
				rw.release()
			}
		}
	}()
	next.ServeHTTP(rw, r)
	returned = true
	permit.Record(levee.Outcome{Result: opts.outcome(rw)})
	if owned {
		rw.release()
	}
}

var errPanicked = errors.New("leveehttp: handler panicked")

// StatusError is the error a [Handler] pipeline sees for a response whose
// status the classifier counts as a failure.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return "leveehttp: status " + strconv.Itoa(e.Code) }

// Handler returns middleware that runs each request through the pipeline p:
// gates, time limits and fallbacks apply as in [levee.Do]. Retries and hedges
// make no sense around a handler that has written its response and must not
// be in p. A time limit's deadline is put on the request's context. Unlike
// [Gate], Handler allocates per request (the call closure).
//
// When the pipeline refuses or fails a request before the handler writes,
// the request gets opts.Reject's response; by default [StatusFor] picks its
// status, so a [levee.Fault] (a fault injector's injected answer) is
// answered with its status. A panic, the handler's or
// one injected in the pipeline, is raised as [levee.Do] does (for
// [Recover]), or, in a pipeline with ReturnPanics, answered with a 500.
func Handler(p *levee.Pipeline, opts Options) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rw, owned := wrap(w)
			if owned {
				defer rw.release()
			}
			err := p.Run(r.Context(), func(ctx context.Context) error {
				req := r
				if ctx != r.Context() {
					req = r.WithContext(ctx)
				}
				next.ServeHTTP(rw, req)
				switch st := rw.Status(); {
				case rw.refused:
					// A Levee middleware inside refused the request: not
					// the handler's outcome, so the pipeline ignores it.
					return levee.Ignore(&StatusError{Code: st})
				case opts.classify(st) == levee.Failure:
					return &StatusError{Code: st}
				}
				return nil
			})
			var se *StatusError
			if err != nil && !errors.As(err, &se) && !rw.wroteHeader {
				markRefusal(rw, err)
				opts.reject(rw, r, err)
			}
		})
	}
}
