// Package shed refuses work a service cannot finish in time, before it
// starts, so that the work it accepts still succeeds.
//
// A [Shedder] is a BBR-style shedder after go-kratos: from a rolling window
// (10s of 100 buckets by default) it estimates the concurrency at which the
// service completes the most calls with little queueing, maxPass·minRT
// times a probing gain (1.25, as TCP BBR probes), and while engaged refuses
// calls that find more in flight. It is engaged
// always, or only while the CPU is over a threshold ([Config.CPU],
// [Config.CPUThreshold], 80% by default) and for a cool-off after its last
// rejection.
//
// Calls are shed by criticality ([levee.Criticality], carried on the
// context with [levee.WithCriticality] and by the leveehttp and leveegrpc
// adapters in headers): SHEDDABLE first, then SHEDDABLE_PLUS, then
// CRITICAL, and CRITICAL_PLUS never unless [Config.ShedCriticalPlus] is
// set. A level is refused only while every lower level is refused too.
//
// A [CPUSampler] measures the CPU usage of the process's container from
// cgroup v2 (cpu.max, cpu.stat), cgroup v1 (cpu.cfs_quota_us,
// cpu.cfs_period_us, cpuacct.usage) or /proc/stat, relative to the
// container's quota: 0.9 means 90% of the quota, not of the host. Its file
// system root is injectable ([CPUConfig.FS]).
//
// A refusal is [levee.ErrShed] with a suggested Retry-After
// ([levee.RetryAfter]), which leveehttp turns into 503 with Retry-After.
// The Shedder is a [levee.Gate] (stage [levee.StageLimit]); admission
// allocates nothing.
package shed
