package leveesql_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/leveesql"
	"github.com/levee-go/levee/retry"
)

func newRunner(t *testing.T, cfg leveesql.Config) (*leveesql.Runner, *retryCounter) {
	t.Helper()
	r, err := leveesql.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	var c retryCounter
	c.listen(r)
	return r, &c
}

// TestUniqueViolationIgnoredByBreaker: a unique violation is returned
// as it is, never retried, and a breaker that opens on one failure does
// not count it; a serialization failure it does count.
func TestUniqueViolationIgnoredByBreaker(t *testing.T) {
	pool := requirePool(t, 2)
	s := testSchema(t, pool)
	exec(t, pool, "create table "+s+".t (id int primary key)", "insert into "+s+".t values (1)")
	br, err := breaker.New(breaker.Config{ConsecutiveFailures: 1, OpenWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r, c := newRunner(t, leveesql.Config{Policies: []levee.Policy{br}, Retry: retry.Config{MaxAttempts: 3, BaseDelay: time.Millisecond}})
	ctx := context.Background()
	var runs atomic.Int64
	for range 5 {
		err := r.InPgxTx(ctx, pool, pgx.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
			runs.Add(1)
			_, err := tx.Exec(ctx, "insert into "+s+".t values (1)")
			return err
		})
		if leveesql.SQLState(err) != "23505" {
			t.Fatalf("InPgxTx(duplicate insert) = %v, want a unique violation", err)
		}
	}
	if runs.Load() != 5 || c.n.Load() != 0 {
		t.Errorf("5 duplicate inserts ran %d times with %d retries, want 5 and 0", runs.Load(), c.n.Load())
	}
	if st := br.State(); st != breaker.Closed {
		t.Fatalf("breaker after 5 unique violations: %v, want closed", st)
	}
	err = r.InPgxTx(ctx, pool, pgx.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, raise("40001"))
		return err
	})
	if !errors.Is(err, levee.ErrOpen) || br.State() != breaker.Open {
		t.Errorf("InPgxTx(serialization failure) = %v, breaker %v; want the retry rejected by the open breaker", err, br.State())
	}
}

// TestKilledConnectionRetried: the server ends the transaction's
// connection (pg_terminate_backend) during the first attempt; the second
// attempt, on a new connection, commits, once.
func TestKilledConnectionRetried(t *testing.T) {
	pool := requirePool(t, 4)
	db := requireDB(t, pool, 4)
	s := testSchema(t, pool)
	exec(t, pool, "create table "+s+".t (id int primary key)")
	r, c := newRunner(t, leveesql.Config{Retry: retry.Config{MaxAttempts: 3, BaseDelay: time.Millisecond}})
	ctx := context.Background()

	var pgxRuns atomic.Int64
	err := r.InPgxTx(ctx, pool, pgx.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "insert into "+s+".t values (1)"); err != nil {
			return err
		}
		if pgxRuns.Add(1) == 1 {
			_, err := tx.Exec(ctx, "select pg_terminate_backend(pg_backend_pid())")
			return err
		}
		return nil
	})
	if err != nil || pgxRuns.Load() != 2 {
		t.Errorf("InPgxTx with the connection killed once = %v after %d runs, want nil after 2", err, pgxRuns.Load())
	}

	var sqlRuns atomic.Int64
	err = r.InTx(ctx, db, nil, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "insert into "+s+".t values (2)"); err != nil {
			return err
		}
		if sqlRuns.Add(1) == 1 {
			_, err := tx.ExecContext(ctx, "select pg_terminate_backend(pg_backend_pid())")
			return err
		}
		return nil
	})
	if err != nil || sqlRuns.Load() != 2 {
		t.Errorf("InTx with the connection killed once = %v after %d runs, want nil after 2", err, sqlRuns.Load())
	}

	var n int
	if err := pool.QueryRow(ctx, "select count(*) from "+s+".t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 || c.n.Load() != 2 {
		t.Errorf("rows = %d, retries = %d; want 2 and 2", n, c.n.Load())
	}
}

// TestRetryStopsBeforeDeadline: a transaction that always fails with a
// serialization failure is retried until the next retry could not start
// before the context's deadline; the caller gets the server's error, not
// the deadline's.
func TestRetryStopsBeforeDeadline(t *testing.T) {
	pool := requirePool(t, 2)
	// With 500ms between tries and a 750ms deadline, the second try starts
	// at 500ms and a third could not start before the deadline: the second
	// try ends the call well before the deadline however slow the machine
	// is, unless a try takes 250ms.
	r, _ := newRunner(t, leveesql.Config{Retry: retry.Config{
		MaxAttempts: 1000, Backoff: retry.Constant, Jitter: retry.JitterNone, BaseDelay: 500 * time.Millisecond,
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 750*time.Millisecond)
	defer cancel()
	var runs atomic.Int64
	err := r.InPgxTx(ctx, pool, serializable, func(ctx context.Context, tx pgx.Tx) error {
		runs.Add(1)
		_, err := tx.Exec(ctx, raise("40001"))
		return err
	})
	if leveesql.SQLState(err) != "40001" || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("InPgxTx = %v, want the serialization failure", err)
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("ran %d times with 500ms between tries and a 750ms deadline, want 2", n)
	}
}

// TestAttemptLimit: a transaction that keeps failing runs MaxAttempts
// times; an application error and a panic run once, and the panic rolls
// the transaction back and returns the connection.
func TestAttemptLimit(t *testing.T) {
	pool := requirePool(t, 2)
	db := requireDB(t, pool, 2)
	r, _ := newRunner(t, leveesql.Config{Retry: retry.Config{MaxAttempts: 3, BaseDelay: time.Millisecond}})
	ctx := context.Background()

	var runs atomic.Int64
	err := r.InTx(ctx, db, &sql.TxOptions{Isolation: sql.LevelSerializable}, func(ctx context.Context, tx *sql.Tx) error {
		runs.Add(1)
		_, err := tx.ExecContext(ctx, raise("40P01"))
		return err
	})
	if leveesql.SQLState(err) != "40P01" || runs.Load() != 3 {
		t.Errorf("InTx(always a deadlock) = %v after %d runs, want the deadlock after 3", err, runs.Load())
	}

	runs.Store(0)
	appErr := errors.New("insufficient funds")
	err = r.InPgxTx(ctx, pool, pgx.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
		runs.Add(1)
		return appErr
	})
	if err != appErr || runs.Load() != 1 {
		t.Errorf("InPgxTx(application error) = %#v after %d runs, want the same error after 1", err, runs.Load())
	}

	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want the function's panic", v)
			}
		}()
		_ = r.InPgxTx(ctx, pool, pgx.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error { panic("boom") })
	}()
	if n := pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections still acquired after a panic, want 0", n)
	}
}

func TestNilArguments(t *testing.T) {
	r, _ := newRunner(t, leveesql.Config{})
	ctx := context.Background()
	if err := r.InTx(ctx, nil, nil, func(context.Context, *sql.Tx) error { return nil }); err == nil {
		t.Error("InTx(nil db) = nil, want an error")
	}
	if err := r.InPgxTx(ctx, nil, pgx.TxOptions{}, func(context.Context, pgx.Tx) error { return nil }); err == nil {
		t.Error("InPgxTx(nil db) = nil, want an error")
	}
	if _, err := leveesql.New(leveesql.Config{Retry: retry.Config{MaxAttempts: -1}}); err == nil {
		t.Error("New(MaxAttempts -1) = nil error, want one")
	}
	if _, err := leveesql.New(leveesql.Config{Policies: []levee.Policy{noProtocol{}}}); err == nil {
		t.Error("New(a policy of no protocol) = nil error, want one")
	}
}

// noProtocol is a policy that implements no execution protocol.
type noProtocol struct{}

func (noProtocol) Stage() levee.Stage { return levee.StageBreaker }

// TestSessionEndedAtCommitNotRetried: the server ends the session while it
// runs the COMMIT (a deferred trigger terminates its own backend), so the
// transaction may have been applied: the error matches ErrCommitUnknown,
// over pgx and database/sql, and the function is not run again.
func TestSessionEndedAtCommitNotRetried(t *testing.T) {
	pool := requirePool(t, 4)
	db := requireDB(t, pool, 4)
	s := testSchema(t, pool)
	exec(t, pool,
		"create table "+s+".t (id int primary key)",
		"create function "+s+".die() returns trigger language plpgsql as $$ begin perform pg_terminate_backend(pg_backend_pid()); perform pg_sleep(1); return null; end $$",
		"create constraint trigger die after insert on "+s+".t deferrable initially deferred for each row execute function "+s+".die()",
	)
	r, c := newRunner(t, leveesql.Config{Retry: retry.Config{MaxAttempts: 3, BaseDelay: time.Millisecond}})
	ctx := context.Background()
	var runs atomic.Int64
	err := r.InPgxTx(ctx, pool, pgx.TxOptions{}, func(ctx context.Context, tx pgx.Tx) error {
		runs.Add(1)
		_, err := tx.Exec(ctx, "insert into "+s+".t values (1)")
		return err
	})
	if !errors.Is(err, leveesql.ErrCommitUnknown) || runs.Load() != 1 {
		t.Errorf("InPgxTx = %v after %d runs, want an error matching ErrCommitUnknown after 1", err, runs.Load())
	}
	runs.Store(0)
	err = r.InTx(ctx, db, nil, func(ctx context.Context, tx *sql.Tx) error {
		runs.Add(1)
		_, err := tx.ExecContext(ctx, "insert into "+s+".t values (2)")
		return err
	})
	if !errors.Is(err, leveesql.ErrCommitUnknown) || runs.Load() != 1 {
		t.Errorf("InTx = %v after %d runs, want an error matching ErrCommitUnknown after 1", err, runs.Load())
	}
	if c.n.Load() != 0 {
		t.Errorf("%d retries, want none", c.n.Load())
	}
}

// TestConnectionRefusedRetried: with nothing listening, beginning the
// transaction fails with a connection error, which is retried up to the
// attempt limit, over pgx and database/sql. It needs no PostgreSQL.
func TestConnectionRefusedRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg, err := pgxpool.ParseConfig("postgres://postgres@" + addr + "/test?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := stdlib.OpenDB(*cfg.ConnConfig)
	defer db.Close()
	r, c := newRunner(t, leveesql.Config{Retry: retry.Config{MaxAttempts: 3, BaseDelay: time.Millisecond}})
	ctx := context.Background()

	err = r.InPgxTx(ctx, pool, pgx.TxOptions{}, func(context.Context, pgx.Tx) error { return nil })
	if !errors.Is(err, syscall.ECONNREFUSED) || !leveesql.Retryable(err) || c.n.Load() != 2 {
		t.Errorf("InPgxTx with nothing listening = %v after %d retries, want a retryable refused connection after 2", err, c.n.Load())
	}
	c.n.Store(0)
	err = r.InTx(ctx, db, nil, func(context.Context, *sql.Tx) error { return nil })
	if !errors.Is(err, syscall.ECONNREFUSED) || !leveesql.Retryable(err) || c.n.Load() != 2 {
		t.Errorf("InTx with nothing listening = %v after %d retries, want a retryable refused connection after 2", err, c.n.Load())
	}
}
