package shed_test

import (
	"context"
	"errors"
	"fmt"
	"testing/fstest"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/shed"
)

// A shedder that has learnt the service completes 20 calls per 100ms at
// 10ms each (an estimate of 2 in flight) sheds SHEDDABLE calls first when
// more run, while CRITICAL calls still get in.
func ExampleShedder() {
	clk := clocktest.New(time.Time{})
	s, err := shed.New(shed.Config{Name: "api", Window: time.Second, Buckets: 10, Gain: 1, Clock: clk})
	if err != nil {
		panic(err)
	}
	for range 20 { // one bucket of history
		p, _ := s.Acquire(context.Background())
		p.Record(levee.Outcome{Result: levee.Success, Latency: 10 * time.Millisecond})
	}
	clk.Advance(100 * time.Millisecond)

	critical := levee.WithCriticality(context.Background(), levee.Critical)
	sheddable := levee.WithCriticality(context.Background(), levee.Sheddable)
	for range 3 {
		_, _ = s.Acquire(critical) // three calls running
	}
	_, err = s.Acquire(sheddable)
	wait, _ := levee.RetryAfter(err)
	fmt.Println("sheddable:", err, errors.Is(err, levee.ErrRejected), wait)
	_, err = s.Acquire(critical)
	fmt.Println("critical:", err)
	fmt.Printf("%+v\n", s.Stat())
	// Output:
	// sheddable: levee: load shed true 1s
	// critical: <nil>
	// {InFlight:4 MaxInFlight:2 MaxPass:20 MinRT:10ms Level:1 CPU:0}
}

// A CPU sampler reads the container's quota and usage: here from a
// fixture of a cgroup v2 container allowed one and a half cores. In a
// service, leave FS nil and start Run in a goroutine to keep the average
// fresh for a shedder engaged above 80% of the quota.
func ExampleNewCPUSampler() {
	fsys := fstest.MapFS{
		"sys/fs/cgroup/cpu.max":  {Data: []byte("150000 100000\n")},
		"sys/fs/cgroup/cpu.stat": {Data: []byte("usage_usec 123456\n")},
	}
	cpu, err := shed.NewCPUSampler(shed.CPUConfig{FS: fsys})
	if err != nil {
		panic(err)
	}
	fmt.Println(cpu.Source(), cpu.Cores())
	s, err := shed.New(shed.Config{CPU: cpu, CPUThreshold: 0.8})
	fmt.Println(s != nil, err)
	// Output:
	// cgroup2 1.5
	// true <nil>
}
