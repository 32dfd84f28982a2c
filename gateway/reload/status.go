package reload

import (
	"time"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/slo"
)

// Status is what the controller is doing and last did, for the admin API.
type Status struct {
	// Current is the running version.
	Current Version `json:"current"`
	// Last is the last reload attempt, whatever its result; nil before
	// the first.
	Last *Attempt `json:"last,omitempty"`
	// SelfCheck is the self-check of the running version, or of the one
	// it rolled back; nil when none ran since the last apply.
	SelfCheck *SelfCheckStatus `json:"self_check,omitempty"`
}

// Attempt is one reload attempt.
type Attempt struct {
	Source string    `json:"source"`
	Hash   string    `json:"hash"`
	At     time.Time `json:"at"`
	// Result is applied, unchanged, failed or rolled_back.
	Result string `json:"result"`
	// Version is the version applied; 0 when none was.
	Version int `json:"version,omitempty"`
	// Error says why it failed; Problems are a document's problems.
	Error    string          `json:"error,omitempty"`
	Problems config.Problems `json:"problems,omitempty"`
}

// SelfCheckStatus is the progress and result of a self-check.
type SelfCheckStatus struct {
	// Version is the version watched; Previous the one a failure rolls
	// back to.
	Version  int `json:"version"`
	Previous int `json:"previous"`
	// Started is when the watch began; Period how long it lasts.
	Started time.Time     `json:"started"`
	Period  time.Duration `json:"period_ns"`
	// State is running, passed, failed (and rolled back) or cancelled (a
	// newer apply replaced the version watched).
	State string `json:"state"`
	// Result holds the figures of every objective watched, as last read.
	Result slo.CheckResult `json:"result"`
	// Error says why it failed.
	Error string `json:"error,omitempty"`
}

// Status returns the running version, the last attempt and the
// self-check.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	s.Current.Bad, s.Current.Reason = c.badReason(s.Current.Hash)
	if s.Last != nil {
		l := *s.Last
		s.Last = &l
	}
	if s.SelfCheck != nil {
		sc := *s.SelfCheck
		s.SelfCheck = &sc
	}
	return s
}
