package leveesql_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveesql"
)

// pgAddr is the PostgreSQL the tests share with the rest of the machine.
// Every test works in a schema of its own and drops it.
const pgAddr = "127.0.0.1:5432"

// pgURLs are the connection strings tried, in order: LEVEESQL_TEST_URL if
// set, else the users postgres and root on the database test.
func pgURLs() []string {
	if u := os.Getenv("LEVEESQL_TEST_URL"); u != "" {
		return []string{u}
	}
	return []string{
		"postgres://postgres@" + pgAddr + "/test?sslmode=disable",
		"postgres://root@" + pgAddr + "/test?sslmode=disable",
	}
}

// requirePool returns a pool on the test database, closed at the end of the
// test, or skips the test (fails it when CI is set) when none answers.
func requirePool(tb testing.TB, maxConns int32) *pgxpool.Pool {
	tb.Helper()
	var errs []string
	for _, u := range pgURLs() {
		cfg, err := pgxpool.ParseConfig(u)
		if err != nil {
			tb.Fatalf("pgxpool.ParseConfig(%q): %v", u, err)
		}
		cfg.MaxConns = maxConns
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err == nil {
			err = pool.Ping(ctx)
		}
		cancel()
		if err == nil {
			tb.Cleanup(pool.Close)
			return pool
		}
		if pool != nil {
			pool.Close()
		}
		errs = append(errs, err.Error())
	}
	msg := strings.Join(errs, "; ")
	if os.Getenv("CI") != "" {
		tb.Fatalf("PostgreSQL at %s (database test) is required in CI: %s", pgAddr, msg)
	}
	tb.Skipf("PostgreSQL at %s (database test, user postgres or root) not reachable (%s); start it to run this test", pgAddr, msg)
	return nil
}

// requireDB returns a database/sql handle through the pgx stdlib driver on
// the same database as pool, closed at the end of the test.
func requireDB(tb testing.TB, pool *pgxpool.Pool, maxConns int) *sql.DB {
	tb.Helper()
	db := stdlib.OpenDB(*pool.Config().ConnConfig.Copy())
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	tb.Cleanup(func() { db.Close() })
	return db
}

var schemaSeq atomic.Int64

// testSchema creates a schema no other run uses and drops it, with all it
// holds, at the end of the test.
func testSchema(tb testing.TB, pool *pgxpool.Pool) string {
	tb.Helper()
	s := fmt.Sprintf("leveesql_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano(), schemaSeq.Add(1))
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "create schema "+s); err != nil {
		tb.Fatalf("create schema %s: %v", s, err)
	}
	tb.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "drop schema "+s+" cascade"); err != nil {
			tb.Errorf("drop schema %s: %v", s, err)
		}
	})
	return s
}

// exec runs statements on pool, failing the test on an error.
func exec(tb testing.TB, pool *pgxpool.Pool, stmts ...string) {
	tb.Helper()
	for _, q := range stmts {
		if _, err := pool.Exec(context.Background(), q); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
}

// raise is a statement that makes the server report the given SQLSTATE, as
// a real error of the server.
func raise(code string) string {
	return fmt.Sprintf("do $$ begin raise exception 'test error %s' using errcode = '%s'; end $$", code, code)
}

// retryCounter counts the retries a Runner announces.
type retryCounter struct{ n atomic.Int64 }

func (c *retryCounter) listen(r *leveesql.Runner) {
	r.Retry().OnEvent(func(e levee.Event) {
		if e.Kind == levee.EventRetry {
			c.n.Add(1)
		}
	})
}

var serializable = pgx.TxOptions{IsoLevel: pgx.Serializable}
