package leveesql_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveesql"
	"github.com/levee-go/levee/retry"
)

const (
	accounts       = 8
	startBalance   = 1000
	workers        = 16
	transfersEach  = 25
	transferAmount = 7
)

// bank is a schema with a few accounts and a log of the transfers that
// committed.
type bank struct {
	pool   *pgxpool.Pool
	schema string
}

func newBank(t *testing.T, pool *pgxpool.Pool) bank {
	t.Helper()
	s := testSchema(t, pool)
	exec(t, pool,
		"create table "+s+".accounts (id int primary key, balance bigint not null)",
		"create table "+s+".transfers (id bigserial primary key, worker int not null, seq int not null, unique (worker, seq))",
		"insert into "+s+".accounts select g, 1000 from generate_series(1, 8) g",
	)
	return bank{pool, s}
}

// pair returns the accounts of worker w's i-th transfer: always two
// different ones of the few, so that workers conflict all the time.
func pair(w, i int) (from, to int) {
	from = (w+i)%accounts + 1
	to = (w+2*i+1)%accounts + 1
	if to == from {
		to = from%accounts + 1
	}
	return from, to
}

// check verifies that the money is conserved and that the transfers table
// holds exactly the committed transfers.
func (b bank) check(t *testing.T, committed int64) {
	t.Helper()
	var total, n int64
	ctx := context.Background()
	if err := b.pool.QueryRow(ctx, "select sum(balance) from "+b.schema+".accounts").Scan(&total); err != nil {
		t.Fatal(err)
	}
	if err := b.pool.QueryRow(ctx, "select count(*) from "+b.schema+".transfers").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if total != accounts*startBalance {
		t.Errorf("sum(balance) = %d, want %d: money was created or lost", total, accounts*startBalance)
	}
	if n != committed {
		t.Errorf("count(transfers) = %d, want %d (the transactions reported committed)", n, committed)
	}
}

// update sets the balances of two accounts ($1 to $2, $3 to $4).
func (b bank) update() string {
	return "update " + b.schema + ".accounts set balance = case id when $1 then $2::bigint else $4::bigint end where id in ($1, $3)"
}

// pgxTransfer moves transferAmount between two accounts by reading both
// balances and writing them back, which SERIALIZABLE turns into conflicts.
func (b bank) pgxTransfer(w, i int) func(context.Context, pgx.Tx) error {
	from, to := pair(w, i)
	return func(ctx context.Context, tx pgx.Tx) error {
		var fb, tb int64
		q := "select balance from " + b.schema + ".accounts where id = $1"
		if err := tx.QueryRow(ctx, q, from).Scan(&fb); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, q, to).Scan(&tb); err != nil {
			return err
		}
		// One statement writes both rows, so that no two transfers wait
		// for each other's locks in opposite orders (deadlocks take the
		// server's deadlock_timeout, 1s, to detect); they still conflict.
		if _, err := tx.Exec(ctx, b.update(), from, fb-transferAmount, to, tb+transferAmount); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "insert into "+b.schema+".transfers (worker, seq) values ($1, $2)", w, i)
		return err
	}
}

// sqlTransfer is pgxTransfer through database/sql.
func (b bank) sqlTransfer(w, i int) func(context.Context, *sql.Tx) error {
	from, to := pair(w, i)
	return func(ctx context.Context, tx *sql.Tx) error {
		var fb, tb int64
		q := "select balance from " + b.schema + ".accounts where id = $1"
		if err := tx.QueryRowContext(ctx, q, from).Scan(&fb); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, q, to).Scan(&tb); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, b.update(), from, fb-transferAmount, to, tb+transferAmount); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "insert into "+b.schema+".transfers (worker, seq) values ($1, $2)", w, i)
		return err
	}
}

// runTransfers runs workers × n transfers through do and returns how many
// committed and the errors of those that did not.
func runTransfers(n int, do func(w, i int) error) (committed int64, errs []error) {
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ok  atomic.Int64
		out []error
	)
	for w := range workers {
		wg.Go(func() {
			for i := range n {
				if err := do(w, i); err != nil {
					mu.Lock()
					out = append(out, err)
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return ok.Load(), out
}

// budgetRatio is the share of transactions the conflict tests' budget lets
// retry; it has no per-second allowance, so it is the whole bound.
const budgetRatio = 10

func conflictRunner(t *testing.T) (*leveesql.Runner, *retry.RatioBudget, *retryCounter) {
	t.Helper()
	budget, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: budgetRatio, MinPerSecond: -1, Window: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r, err := leveesql.New(leveesql.Config{Retry: retry.Config{
		MaxAttempts: 100, BaseDelay: 2 * time.Millisecond, MaxDelay: 50 * time.Millisecond, Budget: budget,
	}})
	if err != nil {
		t.Fatal(err)
	}
	var c retryCounter
	c.listen(r)
	return r, budget, &c
}

// checkRetries verifies that conflicts were retried, and within the budget.
func checkRetries(t *testing.T, budget *retry.RatioBudget, c *retryCounter) {
	t.Helper()
	calls, retries := budget.Counts()
	t.Logf("%d transactions, %d retries", calls, c.n.Load())
	if calls != workers*transfersEach {
		t.Errorf("budget counted %d transactions, want %d", calls, workers*transfersEach)
	}
	if c.n.Load() == 0 {
		t.Errorf("no retries: the transfers did not conflict, so the test proves nothing")
	}
	if uint64(c.n.Load()) != retries {
		t.Errorf("retry events = %d, budget counted %d retries; want equal", c.n.Load(), retries)
	}
	if limit := uint64(budgetRatio * calls); retries > limit {
		t.Errorf("retries = %d, want at most budget %d×%d = %d", retries, budgetRatio, calls, limit)
	}
}

// TestConflictingTransfersPgx: 16 goroutines × 25 SERIALIZABLE transfers
// between 4 accounts over pgxpool all commit, once each, through retries of
// serialization failures, within the budget; money is conserved.
func TestConflictingTransfersPgx(t *testing.T) {
	pool := requirePool(t, workers)
	b := newBank(t, pool)
	r, budget, c := conflictRunner(t)
	committed, errs := runTransfers(transfersEach, func(w, i int) error {
		return r.InPgxTx(context.Background(), pool, serializable, b.pgxTransfer(w, i))
	})
	for _, err := range errs[:min(len(errs), 5)] {
		t.Errorf("InPgxTx = %v, want nil", err)
	}
	if committed != workers*transfersEach {
		t.Errorf("%d transfers committed, want %d", committed, workers*transfersEach)
	}
	b.check(t, committed)
	checkRetries(t, budget, c)
}

// TestConflictingTransfersSQL is TestConflictingTransfersPgx through
// database/sql and the pgx stdlib driver.
func TestConflictingTransfersSQL(t *testing.T) {
	pool := requirePool(t, 2)
	db := requireDB(t, pool, workers)
	b := newBank(t, pool)
	r, budget, c := conflictRunner(t)
	opts := &sql.TxOptions{Isolation: sql.LevelSerializable}
	committed, errs := runTransfers(transfersEach, func(w, i int) error {
		return r.InTx(context.Background(), db, opts, b.sqlTransfer(w, i))
	})
	for _, err := range errs[:min(len(errs), 5)] {
		t.Errorf("InTx = %v, want nil", err)
	}
	if committed != workers*transfersEach {
		t.Errorf("%d transfers committed, want %d", committed, workers*transfersEach)
	}
	b.check(t, committed)
	checkRetries(t, budget, c)
}

// TestBudgetBoundsRetries: with a budget of one retry per 100
// transactions, conflicting transfers that find it spent fail with
// ErrBudgetExhausted and their serialization failure, retries never pass
// the budget, and what committed is exactly what was reported.
func TestBudgetBoundsRetries(t *testing.T) {
	pool := requirePool(t, workers)
	b := newBank(t, pool)
	const ratio = 0.01
	budget, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: ratio, MinPerSecond: -1, Window: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r, err := leveesql.New(leveesql.Config{Retry: retry.Config{MaxAttempts: 100, BaseDelay: time.Millisecond, Budget: budget}})
	if err != nil {
		t.Fatal(err)
	}
	var c retryCounter
	c.listen(r)
	committed, errs := runTransfers(transfersEach, func(w, i int) error {
		return r.InPgxTx(context.Background(), pool, serializable, b.pgxTransfer(w, i))
	})
	b.check(t, committed)
	if len(errs) == 0 {
		t.Fatalf("every transfer committed with a budget of %v retries per transaction: the budget was not needed, so the test proves nothing", ratio)
	}
	for _, err := range errs {
		if code := leveesql.SQLState(err); !errors.Is(err, levee.ErrBudgetExhausted) || (code != "40001" && code != "40P01") {
			t.Errorf("InPgxTx = %v, want an error matching levee.ErrBudgetExhausted that holds a serialization failure or deadlock", err)
		}
	}
	calls, retries := budget.Counts()
	t.Logf("%d transactions, %d committed, %d retries, %d refused by the budget", calls, committed, retries, len(errs))
	// Under contention a RatioBudget may allow a few more retries than its
	// formula: at most one per racing goroutine.
	if limit := uint64(ratio*float64(calls)) + workers; retries > limit {
		t.Errorf("retries = %d, want at most %d", retries, limit)
	}
}
