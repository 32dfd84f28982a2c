package leveesql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/levee-go/levee"
	"github.com/levee-go/levee/retry"
)

// Config configures a [Runner]. The zero value is ready to use.
type Config struct {
	// Retry is the retry policy of transactions. Its zero fields take
	// these defaults, chosen because conflicts clear in milliseconds:
	// MaxAttempts 10, BaseDelay 5ms, MaxDelay 1s; the other fields take
	// the defaults of [retry.Config] (full jitter, no retry that could not
	// start before the context's deadline).
	//
	// Retry.Budget nil means a [retry.RatioBudget] with its defaults (a
	// fifth of the transactions over 10s, plus 10 retries a second), made
	// for this Runner and shared by all its transactions: use one Runner
	// per database, or give Runners of the same database one budget.
	//
	// Only errors that [Retryable] accepts are retried, whatever
	// Retry.RetryIf says; RetryIf may refuse more.
	Retry retry.Config
	// Policies are further policies every attempt runs through, such as a
	// breaker for the database. They learn each attempt's outcome from
	// [Classify], so a unique violation does not count against the
	// database's health. In the default order they run inside the retry.
	// Nil entries are skipped.
	Policies []levee.Policy
}

// Runner runs transaction functions and runs them again, from the start and
// in a new transaction, when they fail in a way that another try can
// fix: a serialization failure, a deadlock, a broken connection (see
// [Retryable]). Retries wait with jittered backoff, stop at the attempt
// limit, when the context's deadline would pass, or when the retry budget
// is spent (the error then matches levee.ErrBudgetExhausted and holds the
// last attempt's error).
//
// The function may run several times, so it must do nothing outside the
// transaction that it cannot repeat. One Runner serves any number of
// goroutines.
type Runner struct {
	retry  *retry.Retry
	budget retry.Budget
	pipe   *levee.Pipeline
}

// New returns a Runner configured by cfg, or an error naming the first
// invalid field.
func New(cfg Config) (*Runner, error) {
	rc := cfg.Retry
	if rc.MaxAttempts == 0 {
		rc.MaxAttempts = 10
	}
	if rc.BaseDelay == 0 {
		rc.BaseDelay = 5 * time.Millisecond
	}
	if rc.MaxDelay == 0 {
		rc.MaxDelay = max(time.Second, rc.BaseDelay)
	}
	if rc.Budget == nil {
		b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Clock: rc.Clock})
		if err != nil {
			return nil, fmt.Errorf("leveesql: %w", err)
		}
		rc.Budget = b
	}
	rt, err := retry.New(rc)
	if err != nil {
		return nil, fmt.Errorf("leveesql: Config.Retry: %w", err)
	}
	ps := append([]levee.Policy{rt}, cfg.Policies...)
	pipe, err := levee.NewPipeline(levee.Config{Name: rc.Name, Classifier: Classify, Clock: rc.Clock}, ps...)
	if err != nil {
		return nil, fmt.Errorf("leveesql: Config.Policies: %w", err)
	}
	return &Runner{retry: rt, budget: rc.Budget, pipe: pipe}, nil
}

// Retry returns the Runner's retry policy, for its events
// ([retry.Retry.OnEvent]: one levee.EventRetry before each retry).
func (r *Runner) Retry() *retry.Retry { return r.retry }

// Budget returns the retry budget the Runner draws on.
func (r *Runner) Budget() retry.Budget { return r.budget }

// Beginner starts database/sql transactions: *sql.DB and *sql.Conn are
// Beginners.
type Beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// PgxBeginner starts pgx transactions: *pgxpool.Pool and *pgx.Conn are
// PgxBeginners.
type PgxBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// InTx runs fn in a database/sql transaction begun on db with opts (nil
// means the driver's defaults), commits it when fn returns nil and rolls it
// back otherwise, and runs it all again while the error is retryable and
// the retry policy allows. It returns nil once a transaction commits, or
// the last error. A commit whose outcome is unknown returns an error
// matching [ErrCommitUnknown] and is not retried.
//
// With the pgx stdlib driver (github.com/jackc/pgx/v5/stdlib), errors carry
// their SQLSTATE as they do with pgx itself.
func (r *Runner) InTx(ctx context.Context, db Beginner, opts *sql.TxOptions, fn func(context.Context, *sql.Tx) error) error {
	if db == nil || fn == nil {
		return errors.New("leveesql: InTx with a nil Beginner or function")
	}
	return r.run(ctx, func(ctx context.Context) (err error) {
		tx, err := db.BeginTx(ctx, opts)
		if err != nil {
			return err
		}
		done := false
		defer func() {
			if !done { // fn panicked
				_ = tx.Rollback()
			}
		}()
		if err := fn(ctx, tx); err != nil {
			done = true
			_ = tx.Rollback() // fn's error is the one that matters
			return err
		}
		done = true
		return commitError(tx.Commit())
	})
}

// InPgxTx is [Runner.InTx] for pgx: it runs fn in a transaction begun on db
// (a *pgxpool.Pool or a *pgx.Conn) with opts.
func (r *Runner) InPgxTx(ctx context.Context, db PgxBeginner, opts pgx.TxOptions, fn func(context.Context, pgx.Tx) error) error {
	if db == nil || fn == nil {
		return errors.New("leveesql: InPgxTx with a nil PgxBeginner or function")
	}
	return r.run(ctx, func(ctx context.Context) error {
		tx, err := db.BeginTx(ctx, opts)
		if err != nil {
			return err
		}
		done := false
		defer func() {
			if !done { // fn panicked
				_ = tx.Rollback(context.WithoutCancel(ctx))
			}
		}()
		if err := fn(ctx, tx); err != nil {
			done = true
			_ = tx.Rollback(ctx) // with ctx done, pgx closes the connection instead
			return err
		}
		done = true
		return commitError(tx.Commit(ctx))
	})
}

// run runs attempt through the pipeline. An error Retryable refuses is
// marked so that the retry policy stops, and unmarked before it is
// returned.
func (r *Runner) run(ctx context.Context, attempt func(context.Context) error) error {
	err := r.pipe.Run(ctx, func(ctx context.Context) error {
		err := attempt(ctx)
		if err != nil && !Retryable(err) {
			return finalError{err}
		}
		return err
	})
	if fe, ok := err.(finalError); ok {
		return fe.err
	}
	return err
}

// finalError marks an error that must not be retried; it is what
// retry.NoRetry does, as a type of this package's so that [Runner.run]
// can remove it.
type finalError struct{ err error }

func (e finalError) Error() string   { return e.err.Error() }
func (e finalError) Unwrap() []error { return []error{e.err, retry.ErrNoRetry} }

var (
	_ Beginner    = (*sql.DB)(nil)
	_ Beginner    = (*sql.Conn)(nil)
	_ PgxBeginner = (*pgxpool.Pool)(nil)
	_ PgxBeginner = (*pgx.Conn)(nil)
)
