package leveesql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/levee-go/levee"
)

// TestCommitError: a COMMIT that failed without an answer from the server
// may have been applied, so it is marked unknown and not retried; one the
// server refused, or that was never sent, is left as it is.
func TestCommitError(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name    string
		err     error
		unknown bool
	}{
		{"nil", nil, false},
		{"serialization failure at commit", &pgconn.PgError{Code: "40001"}, false},
		{"unique violation of a deferred constraint", &pgconn.PgError{Severity: "ERROR", Code: "23505"}, false},
		{"session ended at commit", &pgconn.PgError{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P01"}, true},
		{"localized FATAL", &pgconn.PgError{Severity: "FATAL", Code: "XX000"}, true},
		{"server shutdown at commit", &pgconn.PgError{Code: "57P01"}, true},
		{"connection exception at commit", &pgconn.PgError{Code: "08006"}, true},
		{"bad conn: nothing sent", driver.ErrBadConn, false},
		{"tx already done", sql.ErrTxDone, false},
		{"pgx tx closed", pgx.ErrTxClosed, false},
		{"rolled back", pgx.ErrTxCommitRollback, false},
		{"connection reset", reset, true},
		{"eof", io.ErrUnexpectedEOF, true},
		{"deadline", context.DeadlineExceeded, true},
	}
	for _, tt := range tests {
		got := commitError(tt.err)
		if unknown := errors.Is(got, ErrCommitUnknown); unknown != tt.unknown {
			t.Errorf("%s: commitError(%v) = %v, matches ErrCommitUnknown %v, want %v", tt.name, tt.err, got, unknown, tt.unknown)
		}
		if tt.err != nil && !errors.Is(got, tt.err) {
			t.Errorf("%s: commitError(%v) = %v, which does not match the original error", tt.name, tt.err, got)
		}
		if tt.unknown && (Retryable(got) || Classify(got) != levee.Failure) {
			t.Errorf("%s: Retryable(%v) = %v, Classify = %v; want false and failure", tt.name, got, Retryable(got), Classify(got))
		}
	}
}
