// Package leveemq consumes messages idempotently, whatever the broker.
//
// A [Consumer] takes deliveries from a [Source] (a queue on a broker; see the
// rabbitmq and natsjs subpackages) and gives each message to a [Handler]:
//
//   - Deduplication: the message id is claimed in a [Store] before the
//     handler runs, with a lease so that a consumer that dies mid-message
//     does not hold it forever, and marked done only after the handler
//     succeeded. A redelivered message that is already done is acknowledged
//     without running the handler again. redisstore.Store.Handler records
//     the handler's Redis effects and the done mark in one transaction, and
//     pgstore.Store.Handler the done mark in the handler's own PostgreSQL
//     transaction, so a consumer killed between the effect and the
//     acknowledgement never applies the effect twice.
//   - Retries: a failed message goes back to the broker with a delay from a
//     [retry.Retry] backoff; failures are counted in the store, so only the
//     handler's failures count as attempts.
//   - Dead letters: after [Config.MaxAttempts] failures (or at once for an
//     error wrapped with [retry.NoRetry]) the message moves to the source's
//     dead-letter destination with the reason attached.
//   - Concurrency: a gate ([concurrency.Bulkhead] or an adaptive
//     [concurrency.Limiter]) bounds the handlers in flight, and the source's
//     prefetch follows the gate's limit.
//   - Dependency breaker: while the gate in [Config.Dependency] (typically a
//     [breaker.Breaker] on the database the handler writes to) refuses, the
//     consumer stops fetching and returns refused messages to the broker
//     without counting an attempt, so an outage of the dependency does not
//     burn messages into the dead-letter queue.
//   - Graceful drain: when the context given to [Consumer.Run] ends, the
//     consumer stops fetching, lets the handlers in flight finish and settles
//     their messages before returning. Run fits lifecycle.Lifecycle.Go.
//
// The core knows nothing about the transport: a Kafka or SQS source needs
// only to implement [Source] and [Delivery].
package leveemq
