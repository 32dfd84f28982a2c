// Package health serves liveness, readiness and startup probes with the
// semantics and output format of kube-apiserver.
//
// A [Health] holds named [Check] values. Each check says which probes it
// counts for ([Liveness], [Readiness], [Startup]; readiness by default),
// how long it may take, whether it runs on every probe or in the
// background every Interval with probes answered from the cached result,
// and whether it is critical: a failing non-critical check marks the probe
// degraded but keeps it passing.
//
// [Health.Handler] (or [Health.Register] on any mux) serves:
//
//	/livez /readyz /startupz   200 "ok", or 500 with the per-check listing
//	?verbose                   [+]db ok / [-]cache failed: dial tcp: refused
//	                           then "readyz check passed" or "readyz check failed"
//	?exclude=NAME (repeatable) skip a check ("[+]db excluded: ok")
//	/readyz/NAME               one check: "ok" or 500 "internal server error: …"
//	Accept: application/json   a [Report] as JSON
//
// Readiness always includes the built-in "shutdown" check, which fails from
// the moment [Health.Drain] is called: package lifecycle calls it when a
// shutdown begins, so load balancers stop sending traffic while the process
// keeps serving what it has.
//
// Time comes from [Config.Clock], so tests drive interval checks and
// timeouts with the fake clock in package clocktest.
//
// # Kubernetes
//
// Keep dependency checks out of liveness: a failing liveness probe restarts
// the container, which does not fix a database outage. Set timeoutSeconds
// above the checks' timeout ([DefaultTimeout] is one second).
//
//	containers:
//	- name: app
//	  ports:
//	  - {name: http, containerPort: 8080}
//	  startupProbe:
//	    httpGet: {path: /startupz, port: http}
//	    periodSeconds: 2
//	    failureThreshold: 30      # up to 60 s to start
//	  livenessProbe:
//	    httpGet: {path: /livez, port: http}
//	    periodSeconds: 10
//	    timeoutSeconds: 2
//	    failureThreshold: 3
//	  readinessProbe:
//	    httpGet: {path: /readyz, port: http}
//	    periodSeconds: 2          # notices a drain within about 2 s
//	    timeoutSeconds: 2
//	    failureThreshold: 1
//
// See package lifecycle for the matching shutdown settings and preStop hook.
package health
