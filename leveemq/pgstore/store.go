// Package pgstore keeps a leveemq deduplication store in a PostgreSQL
// table (github.com/jackc/pgx/v5).
//
// One row per message id holds when it was done, until when a consumer's
// lease on it runs and how often it failed. [Store.Handler] runs the
// handler inside a transaction that locks the message's row and sets its
// done mark before committing: the handler's own writes and the mark commit
// together, so a message's effect is applied exactly once however often it
// is delivered, even when a consumer dies between its commit and its
// acknowledgement.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/levee-go/levee/leveemq"
)

// DefaultTable is the table used when Config.Table is empty.
const DefaultTable = "leveemq_dedup"

// Config configures a [Store]. Pool is required.
type Config struct {
	// Pool is the database.
	Pool *pgxpool.Pool
	// Table names the table, optionally schema-qualified ("jobs.dedup").
	// Empty means [DefaultTable]. [Store.CreateTable] creates it.
	Table string
}

// Store is a [leveemq.Store] in PostgreSQL.
type Store struct {
	pool  *pgxpool.Pool
	table string
}

var ident = regexp.MustCompile(`^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$`)

// New returns a store configured by cfg, or an error naming the first
// invalid field.
func New(cfg Config) (*Store, error) {
	if cfg.Pool == nil {
		return nil, errors.New("pgstore: Config.Pool is nil")
	}
	t := cfg.Table
	if t == "" {
		t = DefaultTable
	}
	if !ident.MatchString(t) {
		return nil, fmt.Errorf("pgstore: Config.Table = %q, want a lower-case identifier, optionally schema-qualified", t)
	}
	return &Store{pool: cfg.Pool, table: t}, nil
}

// CreateTable creates the store's table if it does not exist.
func (s *Store) CreateTable(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.table+` (
		id text PRIMARY KEY,
		done_at timestamptz,
		lease_until timestamptz,
		failures integer NOT NULL DEFAULT 0
	)`)
	if err != nil {
		return fmt.Errorf("pgstore: create table %s: %w", s.table, err)
	}
	return nil
}

// Prune deletes the done marks older than age; run it periodically with an
// age beyond the brokers' redelivery horizon.
func (s *Store) Prune(ctx context.Context, age time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+s.table+` WHERE done_at < now() - $1::bigint * interval '1 millisecond'`, age.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("pgstore: prune %s: %w", s.table, err)
	}
	return tag.RowsAffected(), nil
}

// Begin claims id for lease; see [leveemq.Store.Begin].
func (s *Store) Begin(ctx context.Context, id string, lease time.Duration) (leveemq.Claim, time.Duration, error) {
	var claimed bool
	err := s.pool.QueryRow(ctx, `INSERT INTO `+s.table+` AS t (id, lease_until)
		VALUES ($1, now() + $2::bigint * interval '1 millisecond')
		ON CONFLICT (id) DO UPDATE SET lease_until = EXCLUDED.lease_until
		WHERE t.done_at IS NULL AND (t.lease_until IS NULL OR t.lease_until <= now())
		RETURNING true`, id, max(lease.Milliseconds(), 1)).Scan(&claimed)
	if err == nil {
		return leveemq.Claimed, 0, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, fmt.Errorf("pgstore: begin %q: %w", id, err)
	}
	var done bool
	var leftMs float64
	err = s.pool.QueryRow(ctx, `SELECT done_at IS NOT NULL,
		COALESCE(EXTRACT(EPOCH FROM (lease_until - now())) * 1000, 0)
		FROM `+s.table+` WHERE id = $1`, id).Scan(&done, &leftMs)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return s.Begin(ctx, id, lease) // forgotten in between: claim again
	case err != nil:
		return 0, 0, fmt.Errorf("pgstore: begin %q: %w", id, err)
	case done:
		return leveemq.AlreadyDone, 0, nil
	}
	return leveemq.Busy, time.Duration(max(leftMs, 0) * float64(time.Millisecond)), nil
}

func (s *Store) exec(ctx context.Context, op, id, sql string) error {
	if _, err := s.pool.Exec(ctx, sql, id); err != nil {
		return fmt.Errorf("pgstore: %s %q: %w", op, id, err)
	}
	return nil
}

// Done marks id done; see [leveemq.Store.Done].
func (s *Store) Done(ctx context.Context, id string) error {
	return s.exec(ctx, "done", id, `INSERT INTO `+s.table+` AS t (id, done_at) VALUES ($1, now())
		ON CONFLICT (id) DO UPDATE SET done_at = COALESCE(t.done_at, now()), lease_until = NULL, failures = 0`)
}

// Fail counts a failed attempt; see [leveemq.Store.Fail].
func (s *Store) Fail(ctx context.Context, id string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `INSERT INTO `+s.table+` AS t (id, failures) VALUES ($1, 1)
		ON CONFLICT (id) DO UPDATE SET failures = t.failures + 1, lease_until = NULL
		RETURNING failures`, id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pgstore: fail %q: %w", id, err)
	}
	return n, nil
}

// Release drops the lease on id; see [leveemq.Store.Release].
func (s *Store) Release(ctx context.Context, id string) error {
	return s.exec(ctx, "release", id, `UPDATE `+s.table+` SET lease_until = NULL WHERE id = $1`)
}

// Forget drops the lease and failure count of id; see [leveemq.Store.Forget].
func (s *Store) Forget(ctx context.Context, id string) error {
	return s.exec(ctx, "forget", id, `UPDATE `+s.table+` SET lease_until = NULL, failures = 0 WHERE id = $1 AND done_at IS NULL`)
}

// Handler returns a leveemq.Handler that runs h in a transaction holding
// the lock on the message's row, and commits h's writes together with the
// done mark. A message already done commits nothing and succeeds; when h
// returns an error the transaction rolls back.
func (s *Store) Handler(h func(ctx context.Context, m leveemq.Message, tx pgx.Tx) error) leveemq.Handler {
	return func(ctx context.Context, m leveemq.Message) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO `+s.table+` (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`, m.ID); err != nil {
				return fmt.Errorf("pgstore: message %q: %w", m.ID, err)
			}
			var done bool
			if err := tx.QueryRow(ctx, `SELECT done_at IS NOT NULL FROM `+s.table+` WHERE id = $1 FOR UPDATE`, m.ID).Scan(&done); err != nil {
				return fmt.Errorf("pgstore: lock message %q: %w", m.ID, err)
			}
			if done {
				return nil
			}
			if err := h(ctx, m, tx); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE `+s.table+` SET done_at = now(), lease_until = NULL, failures = 0 WHERE id = $1`, m.ID); err != nil {
				return fmt.Errorf("pgstore: mark %q done: %w", m.ID, err)
			}
			return nil
		})
	}
}

var _ leveemq.Store = (*Store)(nil)
