package server

import (
	"net/http"
	"sync"
	"time"

	"github.com/levee-go/levee/gateway/dashboard"
	"github.com/levee-go/levee/gateway/proxy"
	"github.com/levee-go/levee/gateway/reload"
	"github.com/levee-go/levee/observe"
)

// liveSource is the dashboard's source over a gateway that reloads: it
// follows the controller's running proxy, building a new
// [dashboard.ProxySource] when a reload swaps it in (rates start again
// from that moment), and reports the configuration's versions and the
// last reload.
type liveSource struct {
	ctl     *reload.Controller
	metrics *observe.ProxyMetrics

	mu    sync.Mutex
	proxy *proxy.Proxy // the proxy src watches
	src   *dashboard.ProxySource
}

func (s *liveSource) Snapshot(now time.Time) dashboard.Snapshot {
	s.mu.Lock()
	if p := s.ctl.Proxy(); p != s.proxy || s.src == nil {
		if s.src != nil {
			s.src.Close()
		}
		src, err := dashboard.NewProxySource(dashboard.ProxySourceOptions{
			Config: s.ctl.Config(), Proxy: p, Metrics: s.metrics, Version: s.version,
		})
		if err != nil {
			s.mu.Unlock()
			return dashboard.Snapshot{Time: now, Config: s.version()}
		}
		s.proxy, s.src = p, src
	}
	src := s.src
	s.mu.Unlock()
	return src.Snapshot(now)
}

func (s *liveSource) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.src != nil {
		s.src.Close()
		s.src = nil
	}
}

// version reports the running version, the history and the last reload
// with its self-check, for the dashboard's config view.
func (s *liveSource) version() *dashboard.Config {
	st := s.ctl.Status()
	c := &dashboard.Config{Version: st.Current.Version, Hash: st.Current.Hash, Applied: st.Current.AppliedAt}
	for _, v := range s.ctl.History() {
		c.History = append(c.History, dashboard.ConfigVersion{Version: v.Version, Hash: v.Hash, Source: v.Source,
			Applied: v.AppliedAt, Bad: v.Bad, Reason: v.Reason})
	}
	if st.Last != nil {
		r := &dashboard.Reload{Status: st.Last.Result, Message: st.Last.Error}
		if sc := st.SelfCheck; sc != nil {
			r.SelfCheck = sc.State
			if sc.Error != "" {
				r.Message = sc.Error
			}
		}
		c.Reload = r
	}
	return c
}

// dashboardHandlers builds the dashboard over ctl and returns the admin
// endpoints that serve it, with a function that stops it.
func dashboardHandlers(ctl *reload.Controller, m *observe.ProxyMetrics) (map[string]http.Handler, func(), error) {
	src := &liveSource{ctl: ctl, metrics: m}
	d, err := dashboard.New(dashboard.Options{Source: src})
	if err != nil {
		return nil, nil, err
	}
	stop := func() {
		d.Close()
		src.close()
	}
	return map[string]http.Handler{
		"GET /dashboard/":    d.Handler(),
		"GET /api/v1/events": d.Events(),
	}, stop, nil
}
