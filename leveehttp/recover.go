package leveehttp

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// RecoverOptions configures [Recover]. The zero value is ready to use.
type RecoverOptions struct {
	// Handler writes the response after a panic, when the handler had not
	// written its header yet (after that, the response is aborted). Nil means a 500 (plain text, or problem+json
	// with ProblemJSON).
	Handler http.Handler
	// ProblemJSON selects an RFC 9457 body for the default 500.
	ProblemJSON bool
	// Logger receives one structured line per panic. Nil means
	// slog.Default(); to log nothing, pass a logger with a discarding handler.
	Logger *slog.Logger
	// RequestIDHeader names the header holding the request id for the log
	// and the event. Empty means "X-Request-Id".
	RequestIDHeader string
	// OnEvent receives an [levee.EventPanic] per panic, its Err a
	// [*HandlerPanic]. Called synchronously; must be cheap.
	OnEvent levee.Listener
	// Clock stamps events. Nil means the real clock.
	Clock clock.Clock
}

// HandlerPanic describes a panic in an HTTP handler: where it happened and
// the recovered [levee.PanicError] with its stack.
type HandlerPanic struct {
	Method    string
	Route     string // the matched pattern (r.Pattern), or the path when none matched
	RequestID string
	Panic     *levee.PanicError
}

func (p *HandlerPanic) Error() string {
	if p.Panic == nil {
		return "leveehttp: panic in " + p.Method + " " + p.Route
	}
	return "leveehttp: panic in " + p.Method + " " + p.Route + ": " + p.Panic.Error()
}

// Unwrap returns the panic, so errors.As finds the [levee.PanicError].
func (p *HandlerPanic) Unwrap() error { return p.Panic }

// Recover returns middleware that turns a panic in the handler into a 500
// (or opts.Handler's response) instead of a dropped connection, logs it and
// reports it. A panic after the handler wrote its header is logged and
// reported the same way, then the response is aborted with
// http.ErrAbortHandler: the client gets an error reading the body rather
// than a truncated body that looks complete. http.ErrAbortHandler raised by
// the handler keeps its meaning: it is re-raised, so the server aborts the
// response silently as documented. Place Recover outermost:
// gate middleware inside it records the panic as a failure before it
// arrives here.
func Recover(opts RecoverOptions) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rw, owned := wrap(w)
			defer func() {
				v := recover()
				if v == nil {
					if owned {
						rw.release()
					}
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				hp := opts.label(r, levee.NewPanicError(v))
				opts.report(r.Context(), "panic in HTTP handler", hp)
				sent, hijacked := rw.wroteHeader, rw.hijacked
				if !sent {
					if opts.Handler != nil {
						opts.Handler.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), panicKey{}, hp)))
					} else {
						writeStatus(rw, http.StatusInternalServerError, "panic in handler", opts.ProblemJSON)
					}
				}
				if owned {
					rw.release()
				}
				if sent && !hijacked {
					// The status and maybe part of the body are out: ending
					// normally would pass a truncated response off as whole.
					// Aborting resets the stream (HTTP/2) or closes the
					// connection mid-body (HTTP/1.1), so the client sees an
					// error; the server does not log it again.
					panic(http.ErrAbortHandler)
				}
			}()
			next.ServeHTTP(rw, r)
		})
	}
}

type panicKey struct{}

// PanicFrom returns the panic that a [RecoverOptions.Handler] is answering.
func PanicFrom(ctx context.Context) (*HandlerPanic, bool) {
	hp, ok := ctx.Value(panicKey{}).(*HandlerPanic)
	return hp, ok
}

// Go runs fn in a goroutine whose panic is logged and reported like a
// handler's instead of crashing the process. Handlers use it for work they
// start in the background; r only labels the report.
func Go(r *http.Request, opts RecoverOptions, fn func()) {
	label := opts.label(r, nil) // read the request now: it is done before fn panics
	levee.Go(fn, func(pe *levee.PanicError) {
		hp := *label
		hp.Panic = pe
		opts.report(context.Background(), "panic in goroutine started by HTTP handler", &hp)
	})
}

// label describes a panic in the request r.
func (o *RecoverOptions) label(r *http.Request, pe *levee.PanicError) *HandlerPanic {
	idHeader := o.RequestIDHeader
	if idHeader == "" {
		idHeader = "X-Request-Id"
	}
	hp := &HandlerPanic{Method: r.Method, Route: r.Pattern, RequestID: r.Header.Get(idHeader), Panic: pe}
	if hp.Route == "" {
		hp.Route = r.URL.Path
	}
	return hp
}

// report logs hp as one structured line and emits its event.
func (o *RecoverOptions) report(ctx context.Context, msg string, hp *HandlerPanic) {
	l := o.Logger
	if l == nil {
		l = slog.Default()
	}
	l.LogAttrs(ctx, slog.LevelError, msg,
		slog.String("method", hp.Method), slog.String("route", hp.Route),
		slog.String("request_id", hp.RequestID), slog.Any("panic", hp.Panic.Value),
		slog.String("stack", string(hp.Panic.Stack)))
	if o.OnEvent != nil {
		o.OnEvent(levee.Event{Kind: levee.EventPanic, Policy: "http", Name: hp.Route,
			Time: clock.Or(o.Clock).Now(), Reason: hp.Method, Err: hp, Context: ctx})
	}
}
