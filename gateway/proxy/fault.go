package proxy

import (
	"errors"
	"net/http"
	"net/textproto"
	"time"

	"github.com/levee-go/levee/chaos"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/gateway/config"
)

// ReasonFaultAbort is the reason given when the route's fault injection
// answered the request instead of forwarding it (fault.abort.status).
const ReasonFaultAbort = "fault_abort"

// faultInjector is a route's fault section: a chaos injector with a delay
// and an abort, each drawn on its own, applied only to requests carrying
// header when one is named.
type faultInjector struct {
	in     *chaos.Injector
	header string // canonical; "" means every request
	clk    clock.Clock
	cfg    config.Fault // as configured or set, for [Proxy.State]
	set    bool         // set at run time by [Proxy.SetFault]
}

func newFaultInjector(fc config.Fault, name string, clk clock.Clock, seed uint64) (*faultInjector, error) {
	var faults []chaos.Fault
	if d := fc.Delay; d != nil {
		faults = append(faults, chaos.Latency(float64(d.Percent), d.Duration))
	}
	if a := fc.Abort; a != nil {
		faults = append(faults, chaos.HTTPStatus(float64(a.Percent), a.Status))
	}
	in, err := chaos.New(chaos.Config{Name: name, Faults: faults, Seed: seed, Clock: clk})
	if err != nil {
		return nil, err
	}
	f := &faultInjector{in: in, clk: clock.Or(clk), cfg: fc}
	if fc.Header != "" {
		f.header = textproto.CanonicalMIMEHeaderKey(fc.Header)
	}
	return f, nil
}

// inject applies the faults that fall on r. It reports whether it answered
// r (an abort, or a client gone during the delay); a delay is recorded in
// ex, so that the route's timeout, which covers it, is shortened.
func (f *faultInjector) inject(w http.ResponseWriter, r *http.Request, ex *exchange) bool {
	if f.header != "" && len(r.Header[f.header]) == 0 {
		return false
	}
	start := f.clk.Nanotime()
	_, err := f.in.Acquire(r.Context())
	ex.delayed = time.Duration(f.clk.Nanotime() - start)
	if err == nil {
		return false
	}
	if se, ok := errors.AsType[*chaos.StatusError](err); ok {
		writeProblem(w, se.HTTPStatus(), ReasonFaultAbort, ex.route.name, "the route's fault injection answered this request")
		return true
	}
	return true // the client went away during the delay: nobody to answer
}
