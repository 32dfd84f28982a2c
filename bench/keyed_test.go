package bench

import (
	"runtime"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/time/rate"
)

// BenchmarkKeyedLimiter measures a per-key limiter holding 1M distinct keys:
// ns/op is one admitted decision for a key that is already present (keys are
// visited round-robin, so the working set is the whole 1M), and bytes/key is
// the live heap the limiter holds once every key has been seen (tables it
// sizes up front included) divided by the key count, measured from
// runtime.MemStats after a forced GC (the key strings themselves are
// allocated beforehand and not counted).
//
// xrate is the pattern most Go services use for per-key limits: a sync.Map
// of *rate.Limiter filled by LoadOrStore, with no eviction.
func BenchmarkKeyedLimiter(b *testing.B) {
	keys := keyedKeys()
	for _, im := range keyedImpls() {
		b.Run(im.name, func(b *testing.B) {
			b.ReportAllocs()
			before := liveHeap() // before: tables sized up front count too
			allow := im.new(b)
			for _, k := range keys {
				if !allow(k) {
					b.Fatalf("first call for %q refused", k)
				}
			}
			after := liveHeap()
			perKey := (float64(after) - float64(before)) / float64(len(keys))
			i := 0
			for b.Loop() {
				if !allow(keys[i]) {
					b.Fatalf("call for %q refused", keys[i])
				}
				if i++; i == len(keys) {
					i = 0
				}
			}
			b.ReportMetric(perKey, "bytes/key")
		})
	}
}

func keyedImpls() []keyedImpl {
	return append(leveeKeyedLimiters(), keyedImpl{
		name: "xrate",
		new: func(testing.TB) func(string) bool {
			var m sync.Map
			return func(key string) bool {
				v, ok := m.Load(key)
				if !ok {
					v, _ = m.LoadOrStore(key, rate.NewLimiter(allowRate, allowBurst))
				}
				return v.(*rate.Limiter).Allow()
			}
		},
	})
}

// keyedImpl builds a keyed limiter that admits everything and returns its
// decision for one key.
type keyedImpl struct {
	name string
	new  func(tb testing.TB) (allow func(key string) bool)
}

const keyedKeyCount = 1_000_000

var (
	keyedOnce sync.Once
	keyedList []string
)

func keyedKeys() []string {
	keyedOnce.Do(func() {
		keyedList = make([]string, keyedKeyCount)
		for i := range keyedList {
			keyedList[i] = "user-" + strconv.Itoa(i)
		}
	})
	return keyedList
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
