package admin

import (
	"context"
	"errors"
	"time"

	"github.com/levee-go/levee/gateway/proxy"
)

// Controller is the configuration control plane the admin API drives:
// the running configuration, its history, and the runtime serving it.
// An implementation must be safe for concurrent use, and Apply must
// compare IfMatch with the running version and swap atomically, so that
// of two clients editing the same version exactly one succeeds.
//
// Errors are told apart with [errors.Is] and [errors.As]: [ErrStale],
// [ErrBadVersion], [ErrNoVersion], [ErrBusy], and [config.Problems] for a
// configuration that does not validate. Any other error is the server's.
type Controller interface {
	// Current is the running version, with its YAML.
	Current() Version
	// Apply validates raw (YAML), builds it and swaps it in.
	Apply(ctx context.Context, raw []byte, opts ApplyOptions) (Report, error)
	// Reload reads the configured source again and applies it.
	Reload(ctx context.Context) (Report, error)
	// History is the last applied versions, oldest first, without YAML.
	History() []Version
	// Rollback applies an earlier version again; force applies one marked
	// bad.
	Rollback(ctx context.Context, version int, force bool) (Report, error)
	// Status is the state of the current or last reload.
	Status() Status
	// Proxy is the runtime serving now; it changes on every swap.
	Proxy() *proxy.Proxy
}

// Errors a [Controller] returns, which the API answers with their own
// status codes.
var (
	// ErrStale: If-Match names a version that is no longer running (412).
	ErrStale = errors.New("admin: the configuration changed since the version given")
	// ErrBadVersion: the configuration is a version marked bad by a failed
	// self-check; force applies it anyway (409).
	ErrBadVersion = errors.New("admin: the version is marked bad")
	// ErrNoVersion: the history holds no such version (404).
	ErrNoVersion = errors.New("admin: no such version in the history")
	// ErrBusy: another reload is under way (409).
	ErrBusy = errors.New("admin: a reload is under way")
	// ErrNoSource: there is no configured source to reload from (409).
	ErrNoSource = errors.New("admin: no configuration source to reload")
	// ErrNoController: the gateway runs without a configuration
	// controller, so the configuration cannot be changed here (501).
	ErrNoController = errors.New("admin: no configuration controller")
)

// Version is one applied configuration.
type Version struct {
	// Version numbers applied configurations from 1, in order.
	Version int `json:"version"`
	// Hash identifies the YAML: the ETag of GET /api/v1/config.
	Hash string `json:"hash"`
	// Source says where it came from: file, etcd, admin, rollback.
	Source    string    `json:"source"`
	AppliedAt time.Time `json:"applied_at"`
	// Bad marks a version that failed its self-check; Reason says why.
	Bad    bool   `json:"bad"`
	Reason string `json:"reason,omitempty"`
	// Raw is the YAML document; never in JSON.
	Raw []byte `json:"-"`
}

// ApplyOptions qualify [Controller.Apply].
type ApplyOptions struct {
	// Source is recorded in the history: "admin" for the API.
	Source string
	// IfMatch is the hash the caller read; empty applies unconditionally.
	IfMatch string
	// Force applies a version marked bad.
	Force bool
}

// Report is the outcome of an apply, reload or rollback.
type Report struct {
	// Version and Hash are the running configuration's after the change.
	Version int    `json:"version"`
	Hash    string `json:"hash"`
	// Unchanged reports a configuration identical to the running one:
	// nothing was rebuilt.
	Unchanged bool `json:"unchanged"`
	// Carried and Reset name the policies whose state survived the swap
	// and those that started afresh.
	Carried []string `json:"carried,omitempty"`
	Reset   []string `json:"reset,omitempty"`
	// Duration is how long validate, build and swap took, in seconds.
	Duration float64 `json:"duration_seconds"`
}

// Status is the state of the current or last reload and its self-check.
type Status struct {
	// State is idle, applying, checking (the self-check is watching),
	// rolled_back or failed.
	State   string `json:"state"`
	Version int    `json:"version"`
	Hash    string `json:"hash"`
	Source  string `json:"source,omitempty"`
	// Started and Finished bound the last reload; Finished is zero while
	// it runs.
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Error says why the last reload failed; empty when it did not.
	Error string `json:"error,omitempty"`
	// SelfCheck is the self-check of the last swap; nil without one.
	SelfCheck *SelfCheck `json:"self_check,omitempty"`
	// Detail is the controller's own account, with whatever figures it
	// keeps (such as the self-check's objectives); nil when it has none.
	Detail any `json:"detail,omitempty"`
}

// SelfCheck is the watch over a newly swapped configuration's SLOs.
type SelfCheck struct {
	// State is watching, passed or failed.
	State string `json:"state"`
	// Ends is when the watch ends.
	Ends time.Time `json:"ends,omitzero"`
	// Reason says why it failed.
	Reason string `json:"reason,omitempty"`
}
