// Package reload replaces the gateway's running configuration while it
// serves, and takes a harmful one back.
//
// A [Controller] owns the running runtime (a configuration and the
// [proxy.Proxy] built from it) and is the one path every source of a new
// configuration takes: the file (watched with [Controller.WatchFile], or
// re-read by [Controller.Reload] on SIGHUP), the admin API
// ([Controller.Apply]) and etcd (Apply with Source "etcd"). A new document
// is
//
//  1. decoded strictly and checked ([config.Parse]); its problems come
//     back as [config.Problems], with path and line:column;
//  2. built into a complete new Proxy beside the running one, taking over
//     every policy whose configuration did not change, with its state;
//  3. warmed: every target new to an upstream with a health check must
//     pass one probe within reload.warm_timeout;
//  4. swapped in atomically: each listener's handler reads the runtime
//     through an atomic pointer, so a request sees the old runtime or the
//     new one, never a half-built one;
//  5. and the old runtime drains its requests in flight (at most
//     reload.drain_timeout) before it is stopped.
//
// A document identical to the running one (same hash) is a no-op. Any
// failure before the swap leaves the running configuration serving, and
// says why: a slog record, [Controller.Status] and the
// levee_gateway_reloads_total metric.
//
// After a swap, a self-check (reload.self_check, built on
// [slo.NewSelfCheck]) watches the routes' objectives and the gateway's
// own for a period; when the new configuration burns its error budget too
// fast, or errors more than it did before, the controller rolls back to
// the previous version at once and marks the bad one, which Apply then
// refuses ([ErrBadVersion]) unless forced.
package reload
