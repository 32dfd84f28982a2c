package leveesql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/levee-go/levee"
)

// sqlStater is any driver error that carries a SQLSTATE: pgx's
// *pgconn.PgError, which database/sql also returns through the pgx stdlib
// driver, and other drivers' errors with the same method.
type sqlStater interface {
	error
	SQLState() string
}

// SQLState returns the five-character SQLSTATE of the first error in err's
// chain that carries one (a *pgconn.PgError, or any error with a
// SQLState() string method), or "" when none does.
func SQLState(err error) string {
	if se, ok := errors.AsType[sqlStater](err); ok {
		return se.SQLState()
	}
	return ""
}

// verdict is one row of the SQLSTATE table.
type verdict struct {
	result    levee.Result
	retryable bool
}

var (
	ignored   = verdict{levee.Ignored, false}
	failure   = verdict{levee.Failure, false}
	transient = verdict{levee.Failure, true}
)

// codeVerdict returns the table's verdict for a SQLSTATE: the code's own row
// if it has one, else its class's (the first two characters), else a
// failure that is not retried.
func codeVerdict(code string) verdict {
	switch code {
	case "40001", // serialization_failure
		"40P01", // deadlock_detected
		"55P03", // lock_not_available
		"53300", // too_many_connections
		"57P01", // admin_shutdown
		"57P02", // crash_shutdown
		"57P03", // cannot_connect_now
		"57P05", // idle_session_timeout
		"72000": // snapshot_too_old
		return transient
	case "55006", // object_in_use
		"25006": // read_only_sql_transaction: connected to a standby
		return failure
	}
	if len(code) != 5 {
		return failure
	}
	switch code[:2] {
	case "08": // connection exception
		return transient
	case "01", "02", "03", "0A", "0B", "0F", "0L", "0P", "0Z",
		"20", "21", "22", "23", "24", "25", "26", "27", "2B", "2D", "2F",
		"34", "38", "39", "3B", "3F", "42", "44", "54", "55", "P0":
		return ignored
	}
	// 28 (authorization), 3D (no such database), 40 (other rollbacks,
	// such as 40003 statement_completion_unknown), 53, 57, 58, 72, F0, HV,
	// XX, and classes this table does not know.
	return failure
}

// Classify is a [levee.Classifier] for database errors: it decides what an
// error tells about the database's health.
//
// Errors that carry a SQLSTATE (see [SQLState]) are classified by it:
//
//	SQLSTATE                                  Result   Retryable
//	40001 serialization_failure               Failure  yes
//	40P01 deadlock_detected                   Failure  yes
//	55P03 lock_not_available                  Failure  yes
//	53300 too_many_connections                Failure  yes
//	57P01 admin_shutdown, 57P02 crash_shutdown,
//	57P03 cannot_connect_now,
//	57P05 idle_session_timeout                Failure  yes
//	72000 snapshot_too_old                    Failure  yes
//	08xxx connection exception                Failure  yes
//	25006 read_only_sql_transaction (standby) Failure  no
//	55006 object_in_use                       Failure  no
//	22xxx data, 23xxx integrity constraint
//	  (23505 unique_violation), 42xxx syntax
//	  or access rule, 0A, 21, 24, 26, 2B, 2D,
//	  2F, 34, 38, 39, 3B, 3F, 44, 54, P0
//	  (RAISE), 01, 02, 03, 0B, 0F, 0L, 0P, 0Z,
//	  20, 27, other 25xxx, other 55xxx        Ignored  no
//	28xxx authorization, 3D000 no database,
//	  58xxx, F0, HV, XX, other 40xxx (40003
//	  statement_completion_unknown), other
//	  53xxx, other 57xxx (57014 statement
//	  timeout), any other class               Failure  no
//
// A row for one code wins over the row of its class.
//
// The Ignored rows are errors about what the statement asked, not about
// the server: a unique violation says nothing about the database's health,
// so it neither opens a breaker nor is retried. The Failure rows are about
// the server: its connections, resources, locks, operators or internals.
//
// Errors without a SQLSTATE:
//
//   - nil is a Success; context.Canceled, rejections and errors marked with
//     [levee.Ignore] are Ignored, as [levee.DefaultClassifier] says;
//   - sql.ErrNoRows, pgx.ErrNoRows, sql.ErrTxDone, pgx.ErrTxClosed and
//     pgx.ErrTxCommitRollback (a statement's error was swallowed and the
//     commit rolled back) are Ignored: mistakes or answers of the caller's;
//   - connection errors are retryable Failures: driver.ErrBadConn,
//     sql.ErrConnDone, pgconn.ErrConnClosed, *pgconn.ConnectError, errors
//     pgx marks safe to retry, net.Error (but not timeouts), io.EOF,
//     io.ErrUnexpectedEOF, ECONNRESET, ECONNREFUSED, EPIPE;
//   - every other error is a Failure that is not retried, a deadline
//     included, and an error matching [ErrCommitUnknown] too.
//
// Classify does not allocate.
func Classify(err error) levee.Result {
	r, _ := classify(err)
	return r
}

// Retryable reports whether a transaction that failed with err may run
// again from the start: the rows marked "yes" in [Classify]'s table and
// connection errors. A transaction whose COMMIT may have been applied
// ([ErrCommitUnknown]) is never retryable.
func Retryable(err error) bool {
	_, retry := classify(err)
	return retry
}

func classify(err error) (levee.Result, bool) {
	if r := levee.DefaultClassifier(err); r != levee.Failure {
		return r, false
	}
	if code := SQLState(err); code != "" {
		v := codeVerdict(code)
		return v.result, v.retryable && !errors.Is(err, ErrCommitUnknown)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows), errors.Is(err, pgx.ErrNoRows),
		errors.Is(err, sql.ErrTxDone), errors.Is(err, pgx.ErrTxClosed),
		errors.Is(err, pgx.ErrTxCommitRollback):
		return levee.Ignored, false
	case errors.Is(err, ErrCommitUnknown), errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return levee.Failure, false
	}
	return levee.Failure, connectionError(err)
}

// connectionError reports whether err says the connection to the server
// failed or broke.
func connectionError(err error) bool {
	if pgconn.SafeToRetry(err) {
		return true
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if ne, ok := errors.AsType[net.Error](err); ok {
		return !ne.Timeout()
	}
	return false
}

// ErrCommitUnknown is matched by the error of a transaction whose COMMIT
// was sent but whose answer was lost: the connection broke, or the server
// ended the session (a FATAL error, a shutdown) while committing. The
// transaction may or may not have been applied. It is a [levee.Failure] and
// never retried; check the data before trying again.
var ErrCommitUnknown = errors.New("leveesql: commit outcome unknown")

type commitUnknownError struct{ err error }

func (e commitUnknownError) Error() string {
	return "leveesql: commit outcome unknown: " + e.err.Error()
}
func (e commitUnknownError) Unwrap() []error { return []error{ErrCommitUnknown, e.err} }

// commitError marks the error of a COMMIT with [ErrCommitUnknown] unless it
// shows that the transaction was not applied: the server answered with an
// error that leaves the session alive (a serialization failure at commit,
// for example), or the driver says nothing was sent or the transaction had
// already ended. An error that ends the session (severity FATAL or PANIC,
// a connection exception, a shutdown) may come after the commit was made
// durable, so it leaves the outcome unknown.
func commitError(err error) error {
	if err == nil || pgconn.SafeToRetry(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrTxDone) ||
		errors.Is(err, pgx.ErrTxClosed) || errors.Is(err, pgx.ErrTxCommitRollback) {
		return err
	}
	if code := SQLState(err); code != "" && !endsSession(err, code) {
		return err
	}
	return commitUnknownError{err}
}

// endsSession reports whether a server error with the given SQLSTATE closes
// the connection.
func endsSession(err error, code string) bool {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		sev := pe.SeverityUnlocalized
		if sev == "" {
			sev = pe.Severity
		}
		if sev == "FATAL" || sev == "PANIC" {
			return true
		}
	}
	return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02"
}
