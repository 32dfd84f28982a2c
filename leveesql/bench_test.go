package leveesql_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/levee-go/levee/leveesql"
)

func BenchmarkClassify(b *testing.B) {
	err := fmt.Errorf("transfer: %w", &pgconn.PgError{Code: "40001"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			leveesql.Classify(err)
		}
	})
}

// BenchmarkPgxTx compares a one-statement transaction on the real
// PostgreSQL run by pgx alone (bare) and through a Runner (leveesql): the
// difference is the Runner's cost when nothing fails.
func BenchmarkPgxTx(b *testing.B) {
	pool := requirePool(b, 4)
	ctx := context.Background()
	fn := func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "select 1")
		return err
	}
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error { return fn(ctx, tx) }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("leveesql", func(b *testing.B) {
		r, err := leveesql.New(leveesql.Config{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := r.InPgxTx(ctx, pool, pgx.TxOptions{}, fn); err != nil {
				b.Fatal(err)
			}
		}
	})
}
