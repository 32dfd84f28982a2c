// Package leveesql makes PostgreSQL transactions resilient: it runs a
// transaction function again when the database asks for it (a
// serialization failure, a deadlock, a broken connection), and it tells
// Levee's policies which database errors say something about the
// database's health and which do not.
//
// # Retrying transactions
//
// A [Runner] holds a retry policy (backoff with jitter, an attempt limit, a
// retry budget, the context's deadline) and runs transaction functions
// under it, for database/sql ([Runner.InTx]) and for pgx v5
// ([Runner.InPgxTx], with a *pgxpool.Pool or a *pgx.Conn):
//
//	runner, err := leveesql.New(leveesql.Config{})
//	...
//	err = runner.InPgxTx(ctx, pool, pgx.TxOptions{IsoLevel: pgx.Serializable},
//		func(ctx context.Context, tx pgx.Tx) error {
//			// read, decide, write: all through tx
//		})
//
// Under SERIALIZABLE isolation PostgreSQL aborts one of two conflicting
// transactions with SQLSTATE 40001 and expects the application to run it
// again; a Runner does, in a new transaction, until one commits. The
// function may therefore run more than once: it must do nothing outside
// the transaction that cannot be repeated. A commit whose answer was lost
// is never retried: its error matches [ErrCommitUnknown].
//
// Create one Runner per database and share it: its retry budget (by
// default a [retry.RatioBudget]) bounds the retries of all its
// transactions together, so that an overloaded database is not sent more
// work by its own retries.
//
// # Classifying errors
//
// [Classify] is a [levee.Classifier] that maps SQLSTATEs to outcomes (its
// documentation holds the table): a unique violation, a syntax error or a
// bad input says nothing about the database and is Ignored, so it neither
// opens a breaker nor drains a budget; serialization failures, deadlocks,
// connection errors and server shutdowns are Failures, and [Retryable]
// says which failures another try can fix. Both read SQLSTATEs from pgx's
// *pgconn.PgError, which database/sql returns too through the pgx stdlib
// driver, or from any error with a SQLState() string method.
//
// Use Classify in any pipeline that calls the database
// (levee.Config{Classifier: leveesql.Classify}), or give a Runner the
// policies to run each attempt through (Config.Policies), such as a
// breaker: each attempt's outcome reaches them through Classify.
//
// # Pool statistics
//
// [WatchPgxPool] and [WatchDB] export a pool's connections and waits
// through a [Watcher]: *observe.Metrics is one, so this module does not
// import Prometheus.
package leveesql
