package admin

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// AuditRecord is one change asked of the admin API: who asked, from
// where, what, the configuration hash before and after, and the result.
type AuditRecord struct {
	Time time.Time `json:"time"`
	// Who is "token:<8 hex digits of the token's SHA-256>", "cert:<the
	// client certificate's subject>", or "anonymous" on an API without
	// authentication.
	Who    string `json:"who"`
	Remote string `json:"remote"`
	Method string `json:"method"`
	Path   string `json:"path"`
	// Action names the operation, such as "config.put" or
	// "breaker.set".
	Action string `json:"action"`
	// Body summarises the request body: a JSON body as sent (cut at 512
	// bytes), a configuration by its size and hash.
	Body string `json:"body,omitempty"`
	// Before and After are the running configuration's hash around the
	// change; equal for actions, which change the runtime only.
	Before string `json:"before_hash,omitempty"`
	After  string `json:"after_hash,omitempty"`
	// Status is the HTTP status answered; Result is "ok" or the error.
	Status int    `json:"status"`
	Result string `json:"result"`
}

// audit writes records to a logger and keeps the latest in a ring.
type audit struct {
	log  *slog.Logger
	mu   sync.Mutex
	ring []AuditRecord
	next int // where the next record goes
	full bool
}

func newAudit(log *slog.Logger, keep int) *audit {
	if keep <= 0 {
		keep = 1000
	}
	return &audit{log: log, ring: make([]AuditRecord, keep)}
}

func (a *audit) record(r AuditRecord) {
	a.mu.Lock()
	a.ring[a.next] = r
	a.next++
	if a.next == len(a.ring) {
		a.next, a.full = 0, true
	}
	a.mu.Unlock()
	a.log.Info("admin: audit", "who", r.Who, "remote", r.Remote, "method", r.Method, "path", r.Path,
		"action", r.Action, "body", r.Body, "before_hash", r.Before, "after_hash", r.After,
		"status", r.Status, "result", r.Result)
}

// recent returns up to n records, oldest first.
func (a *audit) recent(n int) []AuditRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	var all []AuditRecord
	if a.full {
		all = append(all, a.ring[a.next:]...)
	}
	all = append(all, a.ring[:a.next]...)
	if n > 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

// OpenAuditLog opens admin.audit_log: JSON lines to "stdout", "stderr" or
// a file (appended to, created with mode 0600; relative to dir). Empty
// path returns fallback, the gateway's own log. The function returned
// closes the file.
func OpenAuditLog(path, dir string, fallback *slog.Logger) (*slog.Logger, func(), error) {
	var w io.Writer
	closeFn := func() {}
	switch path {
	case "":
		if fallback == nil {
			fallback = slog.Default()
		}
		return fallback, closeFn, nil
	case "stdout":
		w = os.Stdout
	case "stderr":
		w = os.Stderr
	default:
		f, err := os.OpenFile(resolve(dir, path), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("admin.audit_log: %w", err)
		}
		w = f
		closeFn = func() { f.Close() }
	}
	return slog.New(slog.NewJSONHandler(w, nil)), closeFn, nil
}
