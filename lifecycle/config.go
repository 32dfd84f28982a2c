package lifecycle

import (
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/health"
)

// DefaultGracePeriod is Kubernetes' default terminationGracePeriodSeconds.
const DefaultGracePeriod = 30 * time.Second

// Config configures a [Lifecycle]. The zero value works: a 30 s budget
// split into a 5 s drain delay, 15 s for servers to finish, 5 s for flush
// hooks and 5 s to spare, on SIGTERM or SIGINT, without upgrades.
type Config struct {
	// Name names this process in events (Event.Name) and logs. Optional.
	Name string

	// GracePeriod is the whole shutdown budget: set it to the pod's
	// terminationGracePeriodSeconds minus any preStop hook time, since
	// Kubernetes kills the process that much after it starts stopping.
	// Zero means [DefaultGracePeriod]; negative is refused. The three
	// stage budgets below default to shares of it and must fit in it.
	GracePeriod time.Duration
	// DrainDelay is the drain window: how long the process keeps serving
	// after readiness turns false, so that load balancers and kube-proxy
	// notice and stop sending new connections before listeners close, and
	// so that keep-alive clients send their next request, get it answered
	// with "Connection: close" and reconnect elsewhere. Zero means
	// GracePeriod/6 (5 s of 30 s); negative means no delay (when a preStop
	// sleep already provides it). Upgrades use Upgrade.DrainDelay instead.
	DrainDelay time.Duration
	// ShutdownTimeout bounds the Stopping stage: servers' graceful
	// Shutdown and workers' return. Past it, servers are closed by force
	// and the cut-off is logged. Zero means GracePeriod/2; negative is
	// refused.
	ShutdownTimeout time.Duration
	// FlushTimeout bounds the Flushing stage, all hooks together; each
	// hook also has its own limit. Zero means GracePeriod/6; negative is
	// refused.
	FlushTimeout time.Duration

	// Signals start a graceful shutdown; the second one received forces
	// it. Nil means SIGTERM and SIGINT; an empty non-nil slice means none
	// (the context passed to Run, or [Lifecycle.Stop], still works).
	Signals []os.Signal

	// Health, when set, is drained (readiness fails) the moment a shutdown
	// begins, and must report ready before a process started by an upgrade
	// tells its parent it is ready.
	Health *health.Health
	// Logger receives one record per stage start and end, and a warning for
	// everything cut off. Nil means [slog.Default].
	Logger *slog.Logger
	// Clock times the stages. Nil means [clock.Real].
	Clock clock.Clock

	// Upgrade configures zero-downtime binary upgrades.
	Upgrade UpgradeConfig
}

// UpgradeConfig configures zero-downtime upgrades with
// github.com/cloudflare/tableflip: on an upgrade signal the process
// re-executes its binary, the new process inherits the listening sockets,
// and the old one drains only once the new one is ready.
type UpgradeConfig struct {
	// Enabled turns upgrades on. Only one Lifecycle per process may enable
	// them. Listeners must then come from [Lifecycle.Listen] so they can
	// be passed on.
	Enabled bool
	// Signals trigger an upgrade. Nil means SIGHUP and SIGUSR2 (Unix only:
	// tableflip does not support Windows).
	Signals []os.Signal
	// Timeout is how long the new process may take to report ready before
	// it is killed and the old one goes on serving. Zero means one minute;
	// negative is refused.
	Timeout time.Duration
	// DrainDelay is the old process's drain window once the new one is
	// ready: it goes on accepting and serving (readiness stays true, since
	// the new process serves the same sockets) and answers each request
	// with "Connection: close", so that keep-alive clients move to the new
	// process without losing a request; then it shuts down, closing the
	// connections still idle. Zero means GracePeriod/6 (5 s of 30 s);
	// negative means none (idle connections close at once, which loses
	// the requests clients are sending on them at that moment).
	DrainDelay time.Duration
	// PIDFile, when set, receives the pid of the process that is ready, so
	// that a supervisor (systemd's PIDFile=) follows upgrades.
	PIDFile string
}

// budget is a validated Config with defaults filled in.
type budget struct {
	grace, drain, shutdown, flush time.Duration
	upgradeDrain                  time.Duration
}

func (c *Config) resolve() (budget, error) {
	b := budget{grace: c.GracePeriod}
	if b.grace < 0 {
		return b, fmt.Errorf("lifecycle: Config.GracePeriod = %v, want >= 0", b.grace)
	}
	if b.grace == 0 {
		b.grace = DefaultGracePeriod
	}
	if c.ShutdownTimeout < 0 {
		return b, fmt.Errorf("lifecycle: Config.ShutdownTimeout = %v, want >= 0", c.ShutdownTimeout)
	}
	if c.FlushTimeout < 0 {
		return b, fmt.Errorf("lifecycle: Config.FlushTimeout = %v, want >= 0", c.FlushTimeout)
	}
	if c.Upgrade.Timeout < 0 {
		return b, fmt.Errorf("lifecycle: Config.Upgrade.Timeout = %v, want >= 0", c.Upgrade.Timeout)
	}
	b.drain = orShare(c.DrainDelay, b.grace/6)
	if c.DrainDelay < 0 {
		b.drain = 0
	}
	b.upgradeDrain = orShare(c.Upgrade.DrainDelay, b.grace/6)
	if c.Upgrade.DrainDelay < 0 {
		b.upgradeDrain = 0
	}
	b.shutdown = orShare(c.ShutdownTimeout, b.grace/2)
	b.flush = orShare(c.FlushTimeout, b.grace/6)
	if sum := b.drain + b.shutdown + b.flush; sum > b.grace {
		return b, fmt.Errorf("lifecycle: Config.DrainDelay (%v) + Config.ShutdownTimeout (%v) + Config.FlushTimeout (%v) = %v exceeds Config.GracePeriod (%v); Kubernetes would kill the process mid-shutdown",
			b.drain, b.shutdown, b.flush, sum, b.grace)
	}
	if sum := b.upgradeDrain + b.shutdown + b.flush; sum > b.grace {
		return b, fmt.Errorf("lifecycle: Config.Upgrade.DrainDelay (%v) + Config.ShutdownTimeout (%v) + Config.FlushTimeout (%v) = %v exceeds Config.GracePeriod (%v)",
			b.upgradeDrain, b.shutdown, b.flush, sum, b.grace)
	}
	return b, nil
}

func orShare(v, share time.Duration) time.Duration {
	if v == 0 {
		return share
	}
	return v
}

func (c *Config) stopSignals() []os.Signal {
	if c.Signals == nil {
		return []os.Signal{syscall.SIGTERM, syscall.SIGINT}
	}
	return c.Signals
}

func (c *UpgradeConfig) signals() []os.Signal {
	if c.Signals == nil {
		return defaultUpgradeSignals
	}
	return c.Signals
}
