package leveesql_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveesql"
	"github.com/levee-go/levee/retry"
)

// Classify tells a breaker or a retry which database errors are about the
// database. The errors here are built by hand; the server returns the same.
func ExampleClassify() {
	for _, err := range []error{
		&pgconn.PgError{Code: "23505", Message: "duplicate key value"},
		&pgconn.PgError{Code: "40001", Message: "could not serialize access"},
		&pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"},
		fmt.Errorf("transfer: %w", pgconn.ErrConnClosed),
		context.Canceled,
	} {
		fmt.Printf("%-5s %-7v retryable=%v\n", leveesql.SQLState(err), leveesql.Classify(err), leveesql.Retryable(err))
	}
	// Output:
	// 23505 ignored retryable=false
	// 40001 failure retryable=true
	// 57014 failure retryable=false
	//       failure retryable=true
	//       ignored retryable=false
}

// A money transfer under SERIALIZABLE isolation: when PostgreSQL aborts it
// because of a concurrent transfer (SQLSTATE 40001), the Runner runs it
// again in a new transaction.
func ExampleRunner_InPgxTx() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:5432/test")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	budget, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.5})
	if err != nil {
		log.Fatal(err)
	}
	runner, err := leveesql.New(leveesql.Config{Retry: retry.Config{MaxAttempts: 5, Budget: budget}})
	if err != nil {
		log.Fatal(err)
	}
	err = runner.InPgxTx(ctx, pool, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(ctx context.Context, tx pgx.Tx) error {
		var balance int64
		if err := tx.QueryRow(ctx, "select balance from accounts where id = $1", 1).Scan(&balance); err != nil {
			return err
		}
		if balance < 100 {
			// Not a database problem: not retried, and a breaker in
			// Config.Policies does not count it.
			return levee.Ignore(errors.New("insufficient funds"))
		}
		if _, err := tx.Exec(ctx, "update accounts set balance = balance - 100 where id = $1", 1); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "update accounts set balance = balance + 100 where id = $1", 2)
		return err
	})
	switch {
	case errors.Is(err, leveesql.ErrCommitUnknown):
		log.Print("the transfer may have been applied: check before trying again")
	case errors.Is(err, levee.ErrBudgetExhausted):
		log.Print("too many conflicts right now: ", err)
	case err != nil:
		log.Print(err)
	}
}
