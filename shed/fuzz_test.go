package shed_test

import (
	"context"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/shed"
)

// FuzzShedder runs arbitrary sequences of admissions, completions and clock
// steps: the shedder never refuses a level while admitting a lower one,
// its estimate stays sane, and every admitted call is counted back out.
func FuzzShedder(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte{3, 3, 3, 3, 7, 7, 7, 1, 1, 1, 15, 15, 0, 0, 0, 0, 8, 9, 10})
	f.Add([]byte{12, 12, 12, 12, 12, 0, 1, 2, 3, 0, 1, 2, 3, 4, 4, 4, 4, 255, 128})
	f.Fuzz(func(t *testing.T, ops []byte) {
		clk := clocktest.New(time.Time{})
		s, err := shed.New(shed.Config{Window: time.Second, Buckets: 10, Clock: clk, CoolOff: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		levels := []levee.Criticality{levee.CriticalPlus, levee.Critical, levee.SheddablePlus, levee.Sheddable}
		var running []levee.Permit
		for i, op := range ops {
			switch op % 4 {
			case 0, 1:
				if p, err := s.AcquireCriticality(context.Background(), levels[(op>>2)%4]); err == nil {
					running = append(running, p)
				}
			case 2:
				if len(running) > 0 {
					j := int(op>>2) % len(running)
					running[j].Record(levee.Outcome{Result: levee.Success, Latency: time.Duration(op>>2) * time.Millisecond})
					running = append(running[:j], running[j+1:]...)
				}
			case 3:
				clk.Advance(time.Duration(op>>2) * 5 * time.Millisecond)
			}
			refused := false
			for _, c := range levels {
				p, err := s.AcquireCriticality(context.Background(), c)
				if err != nil {
					refused = true
					continue
				}
				p.Record(levee.Outcome{Result: levee.Ignored})
				if refused {
					t.Fatalf("op %d: %v admitted after a more critical level was refused (%+v)", i, c, s.Stat())
				}
			}
			if st := s.Stat(); st.MaxInFlight < -1 || st.InFlight != int64(len(running)) || st.Level < 0 || st.Level > 2 {
				t.Fatalf("op %d: Stat() = %+v with %d running", i, st, len(running))
			}
		}
	})
}
