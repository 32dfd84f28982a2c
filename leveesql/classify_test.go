package leveesql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveesql"
)

// otherDriverError is another driver's error that carries a SQLSTATE the
// same way.
type otherDriverError struct{ code string }

func (e otherDriverError) Error() string    { return "other driver: " + e.code }
func (e otherDriverError) SQLState() string { return e.code }

func TestClassifySQLState(t *testing.T) {
	tests := []struct {
		code      string
		want      levee.Result
		retryable bool
	}{
		{"40001", levee.Failure, true}, // serialization_failure
		{"40P01", levee.Failure, true}, // deadlock_detected
		{"55P03", levee.Failure, true}, // lock_not_available
		{"53300", levee.Failure, true}, // too_many_connections
		{"57P01", levee.Failure, true}, // admin_shutdown
		{"57P02", levee.Failure, true},
		{"57P03", levee.Failure, true},
		{"57P05", levee.Failure, true},
		{"72000", levee.Failure, true},
		{"08000", levee.Failure, true},  // connection_exception
		{"08006", levee.Failure, true},  // connection_failure
		{"08P01", levee.Failure, true},  // protocol_violation
		{"23505", levee.Ignored, false}, // unique_violation
		{"23503", levee.Ignored, false}, // foreign_key_violation
		{"23502", levee.Ignored, false}, // not_null_violation
		{"22012", levee.Ignored, false}, // division_by_zero
		{"22P02", levee.Ignored, false}, // invalid_text_representation
		{"42601", levee.Ignored, false}, // syntax_error
		{"42P01", levee.Ignored, false}, // undefined_table
		{"42501", levee.Ignored, false}, // insufficient_privilege
		{"25P02", levee.Ignored, false}, // in_failed_sql_transaction
		{"0A000", levee.Ignored, false}, // feature_not_supported
		{"P0001", levee.Ignored, false}, // raise_exception
		{"54001", levee.Ignored, false}, // statement_too_complex
		{"55000", levee.Ignored, false}, // object_not_in_prerequisite_state
		{"25006", levee.Failure, false}, // read_only_sql_transaction
		{"55006", levee.Failure, false}, // object_in_use
		{"40002", levee.Failure, false}, // transaction_integrity_constraint_violation
		{"40003", levee.Failure, false}, // statement_completion_unknown
		{"57014", levee.Failure, false}, // query_canceled (statement_timeout)
		{"57P04", levee.Failure, false}, // database_dropped
		{"53100", levee.Failure, false}, // disk_full
		{"53200", levee.Failure, false}, // out_of_memory
		{"58030", levee.Failure, false}, // io_error
		{"28P01", levee.Failure, false}, // invalid_password
		{"3D000", levee.Failure, false}, // invalid_catalog_name
		{"XX000", levee.Failure, false}, // internal_error
		{"XX001", levee.Failure, false}, // data_corrupted
		{"F0000", levee.Failure, false}, // config_file_error
		{"ZZ999", levee.Failure, false}, // unknown class
		{"4000", levee.Failure, false},  // malformed
		{"", levee.Failure, false},      // an empty code is no code
	}
	for _, tt := range tests {
		for _, err := range []error{
			&pgconn.PgError{Code: tt.code},
			fmt.Errorf("transfer: %w", &pgconn.PgError{Code: tt.code}),
			otherDriverError{tt.code},
		} {
			if got := leveesql.Classify(err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", err, got, tt.want)
			}
			if got := leveesql.Retryable(err); got != tt.retryable {
				t.Errorf("Retryable(%v) = %v, want %v", err, got, tt.retryable)
			}
		}
	}
}

func TestClassifyOtherErrors(t *testing.T) {
	opErr := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name      string
		err       error
		want      levee.Result
		retryable bool
	}{
		{"nil", nil, levee.Success, false},
		{"canceled", context.Canceled, levee.Ignored, false},
		{"canceled wrapping a serialization failure", errors.Join(context.Canceled, &pgconn.PgError{Code: "40001"}), levee.Ignored, false},
		{"marked ignored", levee.Ignore(&pgconn.PgError{Code: "40001"}), levee.Ignored, false},
		{"rejection", levee.ErrOpen, levee.Ignored, false},
		{"deadline", context.DeadlineExceeded, levee.Failure, false},
		{"sql no rows", sql.ErrNoRows, levee.Ignored, false},
		{"pgx no rows", pgx.ErrNoRows, levee.Ignored, false},
		{"sql tx done", sql.ErrTxDone, levee.Ignored, false},
		{"pgx tx closed", pgx.ErrTxClosed, levee.Ignored, false},
		{"commit rolled back", pgx.ErrTxCommitRollback, levee.Ignored, false},
		{"bad conn", driver.ErrBadConn, levee.Failure, true},
		{"conn done", sql.ErrConnDone, levee.Failure, true},
		{"pgx conn closed", fmt.Errorf("query: %w", pgconn.ErrConnClosed), levee.Failure, true},
		{"connection reset", opErr, levee.Failure, true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, levee.Failure, true},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), levee.Failure, true},
		{"eof", io.EOF, levee.Failure, true},
		{"unexpected eof", io.ErrUnexpectedEOF, levee.Failure, true},
		{"net timeout", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, levee.Failure, false},
		{"application error", errors.New("insufficient funds"), levee.Failure, false},
		{"commit unknown", fmt.Errorf("x: %w", leveesql.ErrCommitUnknown), levee.Failure, false},
	}
	for _, tt := range tests {
		if got := leveesql.Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
		if got := leveesql.Retryable(tt.err); got != tt.retryable {
			t.Errorf("%s: Retryable(%v) = %v, want %v", tt.name, tt.err, got, tt.retryable)
		}
	}
}

func TestSQLState(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("x"), ""},
		{&pgconn.PgError{Code: "23505"}, "23505"},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", &pgconn.PgError{Code: "40P01"})), "40P01"},
		{otherDriverError{"42P01"}, "42P01"},
	} {
		if got := leveesql.SQLState(tt.err); got != tt.want {
			t.Errorf("SQLState(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	err := fmt.Errorf("transfer: %w", &pgconn.PgError{Code: "40001"})
	if n := testing.AllocsPerRun(100, func() { leveesql.Classify(err) }); n != 0 {
		t.Errorf("Classify allocates %v times per call, want 0", n)
	}
}

// TestClassifyRealErrors classifies errors the real server returns, through
// pgx and through database/sql with the pgx stdlib driver.
func TestClassifyRealErrors(t *testing.T) {
	pool := requirePool(t, 2)
	db := requireDB(t, pool, 2)
	s := testSchema(t, pool)
	exec(t, pool, "create table "+s+".t (id int primary key)", "insert into "+s+".t values (1)")
	tests := []struct {
		query     string
		code      string
		want      levee.Result
		retryable bool
	}{
		{"insert into " + s + ".t values (1)", "23505", levee.Ignored, false},
		{"select 1/0", "22012", levee.Ignored, false},
		{"select * from " + s + ".missing", "42P01", levee.Ignored, false},
		{"selec 1", "42601", levee.Ignored, false},
		{raise("40001"), "40001", levee.Failure, true},
		{raise("40P01"), "40P01", levee.Failure, true},
		{raise("57P01"), "57P01", levee.Failure, true},
		{"set local statement_timeout = 1; select pg_sleep(1)", "57014", levee.Failure, false},
	}
	ctx := context.Background()
	for _, tt := range tests {
		// In a transaction, so that "set local" stays in it.
		pgxErr := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, tt.query); return err })
		var sqlErr error
		if tx, err := db.BeginTx(ctx, nil); err != nil {
			t.Fatal(err)
		} else {
			_, sqlErr = tx.ExecContext(ctx, tt.query)
			tx.Rollback()
		}
		for _, err := range []error{pgxErr, sqlErr} {
			if got := leveesql.SQLState(err); got != tt.code {
				t.Errorf("%s: SQLState(%v) = %q, want %q", tt.query, err, got, tt.code)
			}
			if got := leveesql.Classify(err); got != tt.want {
				t.Errorf("%s: Classify(%v) = %v, want %v", tt.query, err, got, tt.want)
			}
			if got := leveesql.Retryable(err); got != tt.retryable {
				t.Errorf("%s: Retryable(%v) = %v, want %v", tt.query, err, got, tt.retryable)
			}
		}
	}
}
