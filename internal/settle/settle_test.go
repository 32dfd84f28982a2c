package settle

import (
	"sync"
	"testing"
)

func TestSettleOnce(t *testing.T) {
	var tab Table
	tok := tab.Claim(42, 1)
	if !tab.Held(tok) {
		t.Fatalf("Held(%#x) = false after Claim, want true", tok)
	}
	if aux, ok := tab.Settle(tok); !ok || aux != 42 {
		t.Fatalf("Settle(%#x) = %d, %v, want 42, true", tok, aux, ok)
	}
	if _, ok := tab.Settle(tok); ok {
		t.Fatalf("second Settle(%#x) = true, want false", tok)
	}
	if tab.Held(tok) {
		t.Fatalf("Held(%#x) = true after Settle, want false", tok)
	}
}

func TestSettleRefusesStaleAndForgedTokens(t *testing.T) {
	var tab Table
	// Claim and settle every slot once, so the next claims reuse slots with
	// a later generation.
	first := make([]uint64, 0, 128)
	for range 64 {
		first = append(first, tab.Claim(0, 32))
	}
	for _, tok := range first {
		if _, ok := tab.Settle(tok); !ok {
			t.Fatalf("Settle(%#x) = false, want true", tok)
		}
	}
	var live []uint64
	for range 64 {
		live = append(live, tab.Claim(1, 64))
	}
	for _, tok := range first {
		if _, ok := tab.Settle(tok); ok {
			t.Fatalf("Settle(stale %#x) = true, want false", tok)
		}
	}
	for _, tok := range []uint64{0, 1, 2 << 32, 1<<32 | 1<<31, ^uint64(0)} {
		if _, ok := tab.Settle(tok); ok {
			t.Errorf("Settle(forged %#x) = true, want false", tok)
		}
	}
	for _, tok := range live {
		if aux, ok := tab.Settle(tok); !ok || aux != 1 {
			t.Fatalf("Settle(live %#x) = %d, %v, want 1, true", tok, aux, ok)
		}
	}
}

func TestClaimGrowsAndKeepsTokens(t *testing.T) {
	var tab Table
	var toks []uint64
	for i := range 1000 {
		// Understate what is outstanding: the table must still find room.
		toks = append(toks, tab.Claim(uint64(i), 1))
	}
	seen := map[uint64]bool{}
	for i, tok := range toks {
		idx := tok & 0xFFFFFFFF
		if seen[idx] {
			t.Fatalf("slot %d claimed twice", idx)
		}
		seen[idx] = true
		if aux, ok := tab.Settle(tok); !ok || aux != uint64(i) {
			t.Fatalf("Settle(#%d) = %d, %v, want %d, true", i, aux, ok, i)
		}
	}
}

func TestConcurrentDoubleSettle(t *testing.T) {
	var tab Table
	const workers, rounds = 8, 2000
	var wins [workers]int
	var wg sync.WaitGroup
	for r := range rounds {
		tok := tab.Claim(uint64(r), 1)
		for w := range workers {
			wg.Go(func() {
				if _, ok := tab.Settle(tok); ok {
					wins[w]++
				}
			})
		}
		wg.Wait()
	}
	total := 0
	for _, n := range wins {
		total += n
	}
	if total != rounds {
		t.Fatalf("successful settles = %d, want %d (one per claim)", total, rounds)
	}
}

func TestClaimSettleAllocs(t *testing.T) {
	var tab Table
	tab.Settle(tab.Claim(0, 8)) // first use grows the table
	if n := testing.AllocsPerRun(1000, func() { tab.Settle(tab.Claim(0, 8)) }); n != 0 {
		t.Fatalf("Claim+Settle allocs = %v, want 0", n)
	}
}

func BenchmarkClaimSettle(b *testing.B) {
	var tab Table
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tab.Settle(tab.Claim(0, 64))
		}
	})
}

func BenchmarkClaimSettleSerial(b *testing.B) {
	var tab Table
	b.ReportAllocs()
	for b.Loop() {
		tab.Settle(tab.Claim(0, 64))
	}
}
