// Package lifecycle runs a process's servers and workers and stops them
// without dropping requests: a staged graceful shutdown sized to
// Kubernetes' termination grace period, and zero-downtime binary upgrades.
//
// # Shutdown
//
// On SIGTERM or SIGINT (or when Run's context ends, on [Lifecycle.Stop],
// or when a server or worker fails) a [Lifecycle] walks these stages, one
// step of [Lifecycle.Run] each, logging the start, the duration and
// whatever was cut off of each (log/slog), and emitting a
// [levee.EventStateChange] with Policy "lifecycle" at each change:
//
//	Running   serving.
//	Draining  readiness fails at once (health.Health.Drain), then servers
//	          that implement Drainer are told to end keep-alive: the HTTP
//	          adapter (and Lifecycle.Middleware, for servers it does not
//	          own) answers every request with "Connection: close", so an
//	          HTTP/1 connection closes after its next response and an
//	          HTTP/2 connection gets a graceful GOAWAY. Idle connections
//	          are left open, since closing one could lose a request its
//	          client is sending at that moment. The servers go on
//	          accepting and serving for Config.DrainDelay: endpoints
//	          controllers, kube-proxy and load balancers need a few
//	          seconds to stop sending traffic to a pod that is going away,
//	          and keep-alive clients send their next request and move.
//	Stopping  listeners close, the connections still idle are closed and
//	          in-flight requests finish (http.Server.Shutdown, which also
//	          sends HTTP/2 clients a GOAWAY; GracefulStop for gRPC),
//	          workers' contexts are cancelled, for at most
//	          Config.ShutdownTimeout; then the servers still busy are
//	          closed and the workers still running abandoned.
//	Flushing  flush hooks run in order (flush buffers, commit offsets,
//	          close pools), each within its own timeout and all within
//	          Config.FlushTimeout.
//	Stopped   Run returns: nil after a clean shutdown, or an error matching
//	          ErrCutOff that says what was cut off.
//
// A second signal skips what is left: the drain delay ends, servers are
// closed and remaining hooks are skipped.
//
// The budget must fit the grace period, or Kubernetes sends SIGKILL in the
// middle: [New] refuses a Config whose DrainDelay + ShutdownTimeout +
// FlushTimeout (or, for upgrades, Upgrade.DrainDelay + ShutdownTimeout +
// FlushTimeout) exceeds GracePeriod. Leave them zero and they take 1/6, 1/2
// and 1/6 of it (5 s, 15 s, 5 s of the default 30 s), leaving 1/6 spare;
// Upgrade.DrainDelay also defaults to 1/6.
//
// # Kubernetes
//
// Kubernetes sends SIGTERM after running the preStop hook, and both count
// against terminationGracePeriodSeconds. Either let the process drain
// (DrainDelay, the default) or, for images whose servers cannot keep
// serving after SIGTERM, sleep in preStop and set DrainDelay negative. With
// a preStop sleep, set GracePeriod to the grace period minus the sleep.
//
//	spec:
//	  terminationGracePeriodSeconds: 30   # = Config.GracePeriod (+ preStop sleep, if any)
//	  containers:
//	  - name: app
//	    readinessProbe:
//	      httpGet: {path: /readyz, port: http}
//	      periodSeconds: 2                # well within DrainDelay (5 s)
//	      failureThreshold: 1
//	    livenessProbe:
//	      httpGet: {path: /livez, port: http}
//	    lifecycle:
//	      preStop:                        # optional: only with DrainDelay < 0
//	        sleep: {seconds: 5}           # (or exec: {command: ["sleep", "5"]})
//
// # Upgrades
//
// With Config.Upgrade.Enabled, SIGHUP or SIGUSR2 (or [Lifecycle.Upgrade])
// re-executes the binary through github.com/cloudflare/tableflip. The new
// process gets the listening sockets from [Lifecycle.Listen], starts its
// servers on them, waits until its own readiness passes, and only then
// tells the old process, which drains and exits. The old process's
// readiness stays true while it drains, since the new one serves the same
// sockets; it answers each request with "Connection: close" for
// Config.Upgrade.DrainDelay (GracePeriod/6 unless set), so keep-alive
// clients move to the new process without losing a request, and then
// stops as above. A new process that exits, or is not ready within
// Config.Upgrade.Timeout, is killed and the old one goes on serving. Upgrades suit a process run by systemd or by hand; in
// Kubernetes, roll the Deployment instead.
package lifecycle
