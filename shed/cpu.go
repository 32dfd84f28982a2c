package shed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee/clock"
)

// A CPUSource reports CPU usage as a fraction of what the process may use:
// 0.9 is 90% of the container's quota. [CPUSampler] is one; tests pass
// their own.
type CPUSource interface {
	Usage() float64
}

// CPUConfig configures a [CPUSampler]. The zero value reads the real file
// system and samples every 500ms.
type CPUConfig struct {
	// FS is the file system the sampler reads, rooted where "/" would be
	// (it reads sys/fs/cgroup/… and proc/…). Nil means os.DirFS("/");
	// tests pass fixture trees.
	FS fs.FS
	// CPUs is how many cores the process may use when no cgroup quota says
	// otherwise. Zero means runtime.NumCPU(); negative is refused.
	CPUs float64
	// Interval is the sampling period of [CPUSampler.Run]. Zero means
	// 500ms; negative is refused.
	Interval time.Duration
	// Decay weighs the previous average in the usage [CPUSampler.Usage]
	// reports: usage = usage·Decay + sample·(1−Decay). Zero means 0.95
	// (the BBR limiter of go-kratos); values outside [0, 1) are refused,
	// and a negative value means no averaging.
	Decay float64
	// Clock times the samples. Nil means [clock.Real].
	Clock clock.Clock
}

// CPUSampler measures the CPU usage of the process's container. It reads,
// in order of preference:
//
//   - cgroup v2: cpu.max (quota and period, or "max") and the usage_usec
//     line of cpu.stat, in the process's cgroup (from /proc/self/cgroup)
//     or at the root of /sys/fs/cgroup;
//   - cgroup v1: cpu.cfs_quota_us and cpu.cfs_period_us (a quota of -1 is
//     none) and cpuacct.usage;
//   - /proc/stat: the busy share of all the host's cores.
//
// With a cgroup, usage is the CPU time used divided by the time passed and
// by the cores the quota allows (or [CPUConfig.CPUs] when there is no
// quota), so 0.9 means 90% of the container's quota, not of the host.
type CPUSampler struct {
	fsys     fs.FS
	source   string
	cores    float64
	usageF   string // cumulative usage file (cgroups)
	interval time.Duration
	decay    float64
	clk      clock.Clock

	mu      sync.Mutex
	prevUse float64 // ns of CPU (cgroups) or busy ticks (/proc/stat)
	prevTot float64 // ns of wall time × cores, or total ticks
	primed  bool
	usage   atomic.Uint64 // float64 bits of the averaged usage
}

// errSamplerNotBuilt is what a zero [CPUSampler] returns from Sample.
var errSamplerNotBuilt = errors.New("shed: CPUSampler used as a zero value; build it with NewCPUSampler")

// NewCPUSampler detects where CPU usage can be read and returns a sampler,
// or an error when cfg is invalid or nothing can be read.
func NewCPUSampler(cfg CPUConfig) (*CPUSampler, error) {
	switch {
	case cfg.CPUs < 0 || math.IsNaN(cfg.CPUs):
		return nil, fmt.Errorf("shed: CPUConfig.CPUs = %v, want >= 0 (0 means runtime.NumCPU())", cfg.CPUs)
	case cfg.Interval < 0:
		return nil, fmt.Errorf("shed: CPUConfig.Interval = %v, want >= 0 (0 means 500ms)", cfg.Interval)
	case cfg.Decay >= 1 || math.IsNaN(cfg.Decay):
		return nil, fmt.Errorf("shed: CPUConfig.Decay = %v, want < 1 (0 means 0.95)", cfg.Decay)
	}
	s := &CPUSampler{fsys: cfg.FS, interval: cfg.Interval, decay: cfg.Decay, clk: clock.Or(cfg.Clock)}
	if s.fsys == nil {
		s.fsys = os.DirFS("/")
	}
	if s.interval == 0 {
		s.interval = 500 * time.Millisecond
	}
	switch {
	case s.decay == 0:
		s.decay = 0.95
	case s.decay < 0:
		s.decay = 0
	}
	host := cfg.CPUs
	if host == 0 {
		host = float64(runtime.NumCPU())
	}
	if err := s.detect(host); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *CPUSampler) detect(host float64) error {
	// cgroup v2, in our own cgroup first.
	var dirs []string
	if b, err := fs.ReadFile(s.fsys, "proc/self/cgroup"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if p, ok := strings.CutPrefix(line, "0::"); ok && p != "/" && p != "" {
				dirs = append(dirs, "sys/fs/cgroup/"+strings.Trim(p, "/"))
			}
		}
	}
	dirs = append(dirs, "sys/fs/cgroup")
	for _, d := range dirs {
		if _, err := s.readUsage(d + "/cpu.stat"); err != nil {
			continue
		}
		cores := host
		if b, err := fs.ReadFile(s.fsys, d+"/cpu.max"); err == nil {
			q, err := ParseCPUMax(string(b))
			if err != nil {
				return err
			}
			if q > 0 {
				cores = q
			}
		}
		s.source, s.usageF, s.cores = "cgroup2", d+"/cpu.stat", cores
		return nil
	}
	// cgroup v1: the controllers are mounted apart or together.
	for _, pair := range [][2]string{{"sys/fs/cgroup/cpu", "sys/fs/cgroup/cpuacct"}, {"sys/fs/cgroup/cpu,cpuacct", "sys/fs/cgroup/cpu,cpuacct"}} {
		usage := pair[1] + "/cpuacct.usage"
		if _, err := s.readUsage(usage); err != nil {
			continue
		}
		cores := host
		qb, qerr := fs.ReadFile(s.fsys, pair[0]+"/cpu.cfs_quota_us")
		pb, perr := fs.ReadFile(s.fsys, pair[0]+"/cpu.cfs_period_us")
		if qerr == nil && perr == nil {
			q, err := ParseCFSQuota(string(qb), string(pb))
			if err != nil {
				return err
			}
			if q > 0 {
				cores = q
			}
		}
		s.source, s.usageF, s.cores = "cgroup1", usage, cores
		return nil
	}
	if b, err := fs.ReadFile(s.fsys, "proc/stat"); err == nil {
		if _, _, err := ParseProcStat(b); err != nil {
			return err
		}
		s.source, s.cores = "procstat", host
		return nil
	}
	return errors.New("shed: no CPU usage source: found neither cgroup v2 cpu.stat, cgroup v1 cpuacct.usage nor /proc/stat")
}

// readUsage returns cumulative CPU nanoseconds from a cgroup file.
func (s *CPUSampler) readUsage(name string) (float64, error) {
	b, err := fs.ReadFile(s.fsys, name)
	if err != nil {
		return 0, err
	}
	if strings.HasSuffix(name, "cpu.stat") {
		us, err := ParseCPUStat(b)
		return float64(us) * 1e3, err
	}
	ns, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("shed: %s: %q is not a count of nanoseconds", name, bytes.TrimSpace(b))
	}
	return float64(ns), nil
}

// Source names what the sampler reads: "cgroup2", "cgroup1" or "procstat".
func (s *CPUSampler) Source() string { return s.source }

// Cores returns how many cores the usage is relative to: the cgroup quota,
// or [CPUConfig.CPUs] without one.
func (s *CPUSampler) Cores() float64 { return s.cores }

// Sample reads the usage since the previous call (or since the sampler was
// made), as a fraction of the quota within [0, 1], and folds it into the
// average [CPUSampler.Usage] reports.
func (s *CPUSampler) Sample() (float64, error) {
	if s.fsys == nil {
		return 0, errSamplerNotBuilt
	}
	var use, tot float64
	if s.source == "procstat" {
		b, err := fs.ReadFile(s.fsys, "proc/stat")
		if err != nil {
			return 0, err
		}
		busy, total, err := ParseProcStat(b)
		if err != nil {
			return 0, err
		}
		use, tot = float64(busy), float64(total)
	} else {
		u, err := s.readUsage(s.usageF)
		if err != nil {
			return 0, err
		}
		use, tot = u, float64(s.clk.Nanotime())*s.cores
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var v float64
	if s.primed && tot > s.prevTot {
		v = min(max((use-s.prevUse)/(tot-s.prevTot), 0), 1)
	}
	first := !s.primed
	s.prevUse, s.prevTot, s.primed = use, tot, true
	if first {
		return 0, nil
	}
	avg := math.Float64frombits(s.usage.Load())*s.decay + v*(1-s.decay)
	s.usage.Store(math.Float64bits(avg))
	return v, nil
}

// Usage returns the averaged usage, a fraction of the quota; zero until
// two samples were taken.
func (s *CPUSampler) Usage() float64 { return math.Float64frombits(s.usage.Load()) }

// Run samples every [CPUConfig.Interval] until ctx ends. Start it once, in
// its own goroutine.
func (s *CPUSampler) Run(ctx context.Context) {
	if s.fsys == nil {
		return // a zero value: nothing to read
	}
	_, _ = s.Sample()
	t := s.clk.NewTimer(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			_, _ = s.Sample()
			t.Reset(s.interval)
		}
	}
}

// ParseCPUMax parses a cgroup v2 cpu.max file ("QUOTA PERIOD" in
// microseconds, QUOTA "max" for none) into cores, or 0 for no quota.
func ParseCPUMax(s string) (float64, error) {
	f := strings.Fields(s)
	if len(f) == 0 || len(f) > 2 {
		return 0, fmt.Errorf("shed: cpu.max %q: want \"QUOTA [PERIOD]\"", s)
	}
	if f[0] == "max" {
		return 0, nil
	}
	period := "100000"
	if len(f) == 2 {
		period = f[1]
	}
	return quotaCores(f[0], period, "cpu.max")
}

// ParseCFSQuota parses cgroup v1 cpu.cfs_quota_us and cpu.cfs_period_us
// into cores, or 0 for no quota (-1).
func ParseCFSQuota(quota, period string) (float64, error) {
	q := strings.TrimSpace(quota)
	if q == "-1" {
		return 0, nil
	}
	return quotaCores(q, strings.TrimSpace(period), "cpu.cfs_quota_us")
}

func quotaCores(quota, period, file string) (float64, error) {
	q, err := strconv.ParseInt(quota, 10, 64)
	if err != nil || q <= 0 {
		return 0, fmt.Errorf("shed: %s: quota %q is not a positive count of microseconds", file, quota)
	}
	p, err := strconv.ParseInt(period, 10, 64)
	if err != nil || p <= 0 {
		return 0, fmt.Errorf("shed: %s: period %q is not a positive count of microseconds", file, period)
	}
	return float64(q) / float64(p), nil
}

// ParseCPUStat returns the usage_usec field of a cgroup v2 cpu.stat file.
func ParseCPUStat(b []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "usage_usec" {
			v, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("shed: cpu.stat: usage_usec %q is not a count", f[1])
			}
			return v, nil
		}
	}
	return 0, errors.New("shed: cpu.stat has no usage_usec line")
}

// ParseProcStat returns the busy and total ticks of the aggregate "cpu"
// line of /proc/stat; idle and iowait are not busy.
func ParseProcStat(b []byte) (busy, total uint64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "cpu" {
			continue
		}
		if len(f) < 5 {
			return 0, 0, fmt.Errorf("shed: /proc/stat: cpu line has %d fields, want at least 5", len(f))
		}
		var idle uint64
		for i, s := range f[1:] {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("shed: /proc/stat: cpu field %d %q is not a count", i+1, s)
			}
			if i >= 7 { // guest and guest_nice are already in user and nice
				break
			}
			if total+v < total {
				return 0, 0, errors.New("shed: /proc/stat: cpu ticks overflow")
			}
			total += v
			if i == 3 || i == 4 {
				idle += v
			}
		}
		return total - idle, total, nil
	}
	return 0, 0, errors.New("shed: /proc/stat has no cpu line")
}
