package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/levee-go/levee/gateway/admin"
	"github.com/levee-go/levee/gateway/proxy"
	"github.com/levee-go/levee/gateway/reload"
)

// adminController is the reload controller as the admin API drives it:
// the same operations with the admin API's types and errors.
type adminController struct{ c *reload.Controller }

func (a adminController) Current() admin.Version { return adminVersion(a.c.Current()) }

func (a adminController) Apply(ctx context.Context, raw []byte, o admin.ApplyOptions) (admin.Report, error) {
	r, err := a.c.Apply(ctx, raw, reload.ApplyOptions{Source: o.Source, IfMatch: o.IfMatch, Force: o.Force})
	return adminReport(r), adminError(err)
}

func (a adminController) Reload(ctx context.Context) (admin.Report, error) {
	r, err := a.c.Reload(ctx)
	return adminReport(r), adminError(err)
}

func (a adminController) History() []admin.Version {
	h := a.c.History()
	out := make([]admin.Version, len(h))
	for i, v := range h {
		out[i] = adminVersion(v)
	}
	return out
}

func (a adminController) Rollback(ctx context.Context, version int, force bool) (admin.Report, error) {
	r, err := a.c.Rollback(ctx, version, force)
	return adminReport(r), adminError(err)
}

func (a adminController) Status() admin.Status {
	s := a.c.Status()
	out := admin.Status{State: "idle", Version: s.Current.Version, Hash: s.Current.Hash, Source: s.Current.Source, Detail: s}
	if l := s.Last; l != nil {
		out.State, out.Started, out.Finished, out.Error = l.Result, l.At, l.At, l.Error
	}
	if sc := s.SelfCheck; sc != nil {
		out.SelfCheck = &admin.SelfCheck{State: sc.State, Ends: sc.Started.Add(sc.Period), Reason: sc.Error}
	}
	return out
}

func (a adminController) Proxy() *proxy.Proxy { return a.c.Proxy() }

func adminVersion(v reload.Version) admin.Version {
	return admin.Version{Version: v.Version, Hash: v.Hash, Source: v.Source, AppliedAt: v.AppliedAt, Bad: v.Bad, Reason: v.Reason, Raw: v.Raw}
}

func adminReport(r reload.Report) admin.Report {
	out := admin.Report{Version: r.Version.Version, Hash: r.Version.Hash, Unchanged: r.Unchanged, Duration: r.Duration.Seconds()}
	for _, c := range r.Carried {
		s := c.Kind + " " + c.Name + ": " + c.Reason
		if c.Carried {
			out.Carried = append(out.Carried, s)
		} else {
			out.Reset = append(out.Reset, s)
		}
	}
	return out
}

// adminError gives the reload controller's errors the admin API's
// meaning; config.Problems pass through as they are.
func adminError(err error) error {
	for _, m := range [...]struct{ from, to error }{
		{reload.ErrStale, admin.ErrStale},
		{reload.ErrBadVersion, admin.ErrBadVersion},
		{reload.ErrNoVersion, admin.ErrNoVersion},
		{reload.ErrNoSource, admin.ErrNoSource},
	} {
		if errors.Is(err, m.from) {
			return fmt.Errorf("%w: %w", m.to, err)
		}
	}
	return err
}

var _ admin.Controller = adminController{}
