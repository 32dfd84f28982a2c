// Package dashboard is the gateway's live dashboard: a page embedded in
// the binary (HTML, CSS and a small script that draws its own SVG charts;
// nothing is loaded from elsewhere and nothing is built by users), fed by
// a Server-Sent Events stream.
//
// The admin API mounts it behind its authentication:
//
//	d, err := dashboard.New(dashboard.Options{Source: src})
//	mux.Handle("/dashboard/", d.Handler())
//	mux.Handle("GET /api/v1/events", d.Events())
//
// The stream sends a "snapshot" event first (the state and the last two
// minutes of chart points), then an "update" event per second while the
// page is open. Every list in an event is cut to [Caps], so an event stays
// under 256 KiB whatever the configuration; the browser reconnects on its
// own when the stream breaks.
//
// What the page shows comes from a [Source]; [ProxySource] reads a running
// [proxy.Proxy] (its breakers and their transitions) and its
// [observe.ProxyMetrics] (rates, errors, latency, refusals), and the
// proxy's SLO of each route that has one. The page's buttons (force or
// reset a breaker, change a limit, inject faults, roll back the
// configuration) ask for confirmation in a dialog, then call the admin
// API's endpoints under /api/v1.
package dashboard
