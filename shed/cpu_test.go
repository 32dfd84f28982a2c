package shed_test

import (
	"math"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/shed"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

const procStat = "cpu  %d 0 %d %d 0 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 1\n"

// stat returns a /proc/stat with the given busy (user+system) and idle ticks.
func stat(busy, idle int) string {
	return strings.NewReplacer("%d 0 %d %d", itoa(busy/2)+" 0 "+itoa(busy-busy/2)+" "+itoa(idle)).Replace(procStat)
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}

func TestCPUSamplerSources(t *testing.T) {
	tests := []struct {
		name     string
		fs       fstest.MapFS
		usage    string // the usage file a sample grows
		unit     float64
		source   string
		cores    float64
		procBusy bool
	}{
		{
			name: "cgroup v2 with a quota",
			fs: fstest.MapFS{
				"sys/fs/cgroup/cpu.max":  file("200000 100000\n"),
				"sys/fs/cgroup/cpu.stat": file("usage_usec 1000\nuser_usec 600\nsystem_usec 400\n"),
			},
			usage: "sys/fs/cgroup/cpu.stat", unit: 1e3, source: "cgroup2", cores: 2,
		},
		{
			name: "cgroup v2 without a quota",
			fs: fstest.MapFS{
				"sys/fs/cgroup/cpu.max":  file("max 100000\n"),
				"sys/fs/cgroup/cpu.stat": file("usage_usec 1000\n"),
			},
			usage: "sys/fs/cgroup/cpu.stat", unit: 1e3, source: "cgroup2", cores: 4,
		},
		{
			name: "cgroup v2 in the process's own cgroup",
			fs: fstest.MapFS{
				"proc/self/cgroup":                         file("0::/kubepods/pod1/ctr\n"),
				"sys/fs/cgroup/kubepods/pod1/ctr/cpu.max":  file("50000 100000\n"),
				"sys/fs/cgroup/kubepods/pod1/ctr/cpu.stat": file("usage_usec 1000\n"),
				"sys/fs/cgroup/cpu.stat":                   file("usage_usec 99999999\n"),
			},
			usage: "sys/fs/cgroup/kubepods/pod1/ctr/cpu.stat", unit: 1e3, source: "cgroup2", cores: 0.5,
		},
		{
			name: "cgroup v1 with a quota",
			fs: fstest.MapFS{
				"sys/fs/cgroup/cpu/cpu.cfs_quota_us":  file("150000\n"),
				"sys/fs/cgroup/cpu/cpu.cfs_period_us": file("100000\n"),
				"sys/fs/cgroup/cpuacct/cpuacct.usage": file("1000000\n"),
			},
			usage: "sys/fs/cgroup/cpuacct/cpuacct.usage", unit: 1, source: "cgroup1", cores: 1.5,
		},
		{
			name: "cgroup v1 unlimited, controllers mounted together",
			fs: fstest.MapFS{
				"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":  file("-1\n"),
				"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": file("100000\n"),
				"sys/fs/cgroup/cpu,cpuacct/cpuacct.usage":     file("1000000\n"),
			},
			usage: "sys/fs/cgroup/cpu,cpuacct/cpuacct.usage", unit: 1, source: "cgroup1", cores: 4,
		},
		{
			name:   "no cgroup: /proc/stat",
			fs:     fstest.MapFS{"proc/stat": file(stat(100, 100))},
			source: "procstat", cores: 4, procBusy: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			s, err := shed.NewCPUSampler(shed.CPUConfig{FS: tt.fs, CPUs: 4, Clock: clk, Decay: -1})
			if err != nil {
				t.Fatalf("NewCPUSampler = %v", err)
			}
			if s.Source() != tt.source || s.Cores() != tt.cores {
				t.Fatalf("Source(), Cores() = %q, %v, want %q, %v", s.Source(), s.Cores(), tt.source, tt.cores)
			}
			if _, err := s.Sample(); err != nil {
				t.Fatalf("first Sample() = %v", err)
			}
			// One second passes in which the process uses 60% of what it
			// may: 0.6·cores seconds of CPU.
			clk.Advance(time.Second)
			if tt.procBusy {
				tt.fs["proc/stat"] = file(stat(100+60, 100+40))
			} else {
				used := 0.6 * tt.cores * 1e9 / tt.unit
				base := 1000.0
				if tt.unit == 1 {
					base = 1e6
				}
				v := itoa(int(base + used))
				if strings.HasSuffix(tt.usage, "cpu.stat") {
					tt.fs[tt.usage] = file("usage_usec " + v + "\n")
				} else {
					tt.fs[tt.usage] = file(v + "\n")
				}
			}
			got, err := s.Sample()
			if err != nil {
				t.Fatalf("Sample() = %v", err)
			}
			if math.Abs(got-0.6) > 1e-6 || math.Abs(s.Usage()-0.6) > 1e-6 {
				t.Errorf("Sample(), Usage() = %v, %v, want 0.6", got, s.Usage())
			}
		})
	}
}

func TestCPUSamplerAverages(t *testing.T) {
	clk := clocktest.New(time.Time{})
	fs := fstest.MapFS{"sys/fs/cgroup/cpu.stat": file("usage_usec 0\n"), "sys/fs/cgroup/cpu.max": file("100000 100000")}
	s, err := shed.NewCPUSampler(shed.CPUConfig{FS: fs, Clock: clk, Decay: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Sample()
	clk.Advance(time.Second)
	fs["sys/fs/cgroup/cpu.stat"] = file("usage_usec 1000000\n") // 100%
	_, _ = s.Sample()
	if got := s.Usage(); got != 0.5 {
		t.Errorf("Usage() after one full second at decay 0.5 = %v, want 0.5", got)
	}
	clk.Advance(time.Second)
	fs["sys/fs/cgroup/cpu.stat"] = file("usage_usec 3000000\n") // over the quota: capped at 1
	_, _ = s.Sample()
	if got := s.Usage(); got != 0.75 {
		t.Errorf("Usage() after a second over quota = %v, want 0.75", got)
	}
}

func TestCPUSamplerErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  shed.CPUConfig
	}{
		{"nothing to read", shed.CPUConfig{FS: fstest.MapFS{}}},
		{"bad cpu.max", shed.CPUConfig{FS: fstest.MapFS{"sys/fs/cgroup/cpu.stat": file("usage_usec 1"), "sys/fs/cgroup/cpu.max": file("lots")}}},
		{"bad quota", shed.CPUConfig{FS: fstest.MapFS{"sys/fs/cgroup/cpu/cpu.cfs_quota_us": file("x"), "sys/fs/cgroup/cpu/cpu.cfs_period_us": file("100000"), "sys/fs/cgroup/cpuacct/cpuacct.usage": file("1")}}},
		{"bad /proc/stat", shed.CPUConfig{FS: fstest.MapFS{"proc/stat": file("cpu a b c d\n")}}},
		{"negative CPUs", shed.CPUConfig{CPUs: -1, FS: fstest.MapFS{"proc/stat": file(stat(1, 1))}}},
		{"negative interval", shed.CPUConfig{Interval: -1, FS: fstest.MapFS{"proc/stat": file(stat(1, 1))}}},
		{"decay of one", shed.CPUConfig{Decay: 1, FS: fstest.MapFS{"proc/stat": file(stat(1, 1))}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := shed.NewCPUSampler(tt.cfg); err == nil {
				t.Errorf("NewCPUSampler(%s) = nil error, want one", tt.name)
			}
		})
	}
}

// The real machine has at least /proc/stat.
func TestCPUSamplerReal(t *testing.T) {
	s, err := shed.NewCPUSampler(shed.CPUConfig{})
	if err != nil {
		t.Skipf("no CPU source on this machine: %v", err)
	}
	if _, err := s.Sample(); err != nil {
		t.Errorf("Sample() on %s = %v", s.Source(), err)
	}
	t.Logf("source %s, cores %v", s.Source(), s.Cores())
}

var parserCases = []struct {
	name    string
	cpuMax  string
	cores   float64
	wantErr bool
}{
	{"quota and period", "200000 100000", 2, false},
	{"quota only", "50000", 0.5, false},
	{"no quota", "max 100000", 0, false},
	{"empty", "", 0, true},
	{"words", "lots of cpu", 0, true},
	{"zero period", "100 0", 0, true},
	{"negative quota", "-5 100000", 0, true},
}

func TestParseCPUMax(t *testing.T) {
	for _, tt := range parserCases {
		got, err := shed.ParseCPUMax(tt.cpuMax)
		if (err != nil) != tt.wantErr || got != tt.cores {
			t.Errorf("ParseCPUMax(%q) = %v, %v, want %v, error %v", tt.cpuMax, got, err, tt.cores, tt.wantErr)
		}
	}
}

func TestParseCFSQuota(t *testing.T) {
	tests := []struct {
		quota, period string
		want          float64
		wantErr       bool
	}{
		{"150000\n", "100000\n", 1.5, false},
		{"-1\n", "100000\n", 0, false},
		{"0", "100000", 0, true},
		{"100", "x", 0, true},
	}
	for _, tt := range tests {
		got, err := shed.ParseCFSQuota(tt.quota, tt.period)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseCFSQuota(%q, %q) = %v, %v, want %v, error %v", tt.quota, tt.period, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseCPUStatAndProcStat(t *testing.T) {
	if v, err := shed.ParseCPUStat([]byte("user_usec 5\nusage_usec 42\n")); err != nil || v != 42 {
		t.Errorf("ParseCPUStat = %v, %v, want 42, nil", v, err)
	}
	for _, bad := range []string{"", "usage_usec x\n", "user_usec 5\n"} {
		if _, err := shed.ParseCPUStat([]byte(bad)); err == nil {
			t.Errorf("ParseCPUStat(%q) = nil error, want one", bad)
		}
	}
	busy, total, err := shed.ParseProcStat([]byte("cpu  10 1 5 80 4 0 0 0 7 7\n"))
	if err != nil || busy != 16 || total != 100 {
		t.Errorf("ParseProcStat = %v, %v, %v, want busy 16, total 100", busy, total, err)
	}
	for _, bad := range []string{"", "cpu 1 2\n", "cpu0 1 2 3 4\n", "cpu 1 2 x 4 5\n"} {
		if _, _, err := shed.ParseProcStat([]byte(bad)); err == nil {
			t.Errorf("ParseProcStat(%q) = nil error, want one", bad)
		}
	}
}

func FuzzCPUParsers(f *testing.F) {
	for _, c := range parserCases {
		f.Add(c.cpuMax)
	}
	f.Add("cpu  10 1 5 80 4 0 0 0 7 7\n")
	f.Add("usage_usec 42\n")
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := shed.ParseCPUMax(s); err == nil && (v < 0 || math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Errorf("ParseCPUMax(%q) = %v, want a finite non-negative value", s, v)
		}
		if v, err := shed.ParseCFSQuota(s, "100000"); err == nil && v < 0 {
			t.Errorf("ParseCFSQuota(%q) = %v, want >= 0", s, v)
		}
		_, _ = shed.ParseCPUStat([]byte(s))
		if busy, total, err := shed.ParseProcStat([]byte(s)); err == nil && busy > total {
			t.Errorf("ParseProcStat(%q) = busy %d > total %d", s, busy, total)
		}
	})
}
