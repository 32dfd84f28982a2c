package leveesql

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// A Watcher exports a live quantity, reading fn whenever metrics are
// collected. *observe.Metrics is a Watcher (it exports
// levee_policy_value{policy, name, quantity}); taking the interface keeps
// Prometheus out of this module.
type Watcher interface {
	Watch(policy, name, quantity string, fn func() float64) error
}

// poolQuantities are the quantities [WatchPgxPool] and [WatchDB] export,
// in this order.
var poolQuantities = []string{"open_conns", "in_use_conns", "idle_conns", "max_conns", "wait_count", "wait_seconds"}

// WatchPgxPool exports pool's statistics through w as policy "pool" with
// the given name: open_conns (connections open or being opened),
// in_use_conns, idle_conns, max_conns, wait_count (acquisitions that had
// to wait for a connection, since the pool started) and wait_seconds (the
// time they waited, in seconds, since the pool started). The last two only
// grow. Each quantity reads pool.Stat once per collection.
func WatchPgxPool(w Watcher, name string, pool *pgxpool.Pool) error {
	if w == nil || pool == nil {
		return errors.New("leveesql: WatchPgxPool with a nil Watcher or pool")
	}
	return watch(w, name, []func() float64{
		func() float64 { return float64(pool.Stat().TotalConns()) },
		func() float64 { return float64(pool.Stat().AcquiredConns()) },
		func() float64 { return float64(pool.Stat().IdleConns()) },
		func() float64 { return float64(pool.Stat().MaxConns()) },
		func() float64 { return float64(pool.Stat().EmptyAcquireCount()) },
		func() float64 { return pool.Stat().EmptyAcquireWaitTime().Seconds() },
	})
}

// WatchDB exports db's statistics ([sql.DB.Stats]) through w with the same
// policy and quantities as [WatchPgxPool]: open_conns, in_use_conns,
// idle_conns, max_conns (0: no limit), wait_count and wait_seconds.
func WatchDB(w Watcher, name string, db *sql.DB) error {
	if w == nil || db == nil {
		return errors.New("leveesql: WatchDB with a nil Watcher or DB")
	}
	return watch(w, name, []func() float64{
		func() float64 { return float64(db.Stats().OpenConnections) },
		func() float64 { return float64(db.Stats().InUse) },
		func() float64 { return float64(db.Stats().Idle) },
		func() float64 { return float64(db.Stats().MaxOpenConnections) },
		func() float64 { return float64(db.Stats().WaitCount) },
		func() float64 { return db.Stats().WaitDuration.Seconds() },
	})
}

func watch(w Watcher, name string, fns []func() float64) error {
	var errs []error
	for i, q := range poolQuantities {
		if err := w.Watch("pool", name, q, fns[i]); err != nil {
			errs = append(errs, fmt.Errorf("leveesql: watching %s of %q: %w", q, name, err))
		}
	}
	return errors.Join(errs...)
}
