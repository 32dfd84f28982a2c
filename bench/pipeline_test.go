package bench

import (
	"context"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	fscb "github.com/failsafe-go/failsafe-go/circuitbreaker"
	fsretry "github.com/failsafe-go/failsafe-go/retrypolicy"
	fstimeout "github.com/failsafe-go/failsafe-go/timeout"
)

// The pipeline figures measure a whole successful call through a
// composition, outermost first: retry → breaker → bulkhead (Pipeline), plus
// a per-attempt time limit innermost (PipelineTimeout). The call itself
// returns at once, so the figure is the composition's own overhead; bare is
// the same call made directly, ctxtimeout the call under
// context.WithTimeout alone.
//
// Settings shared by every implementation: retry up to 3 attempts, a
// count-window breaker (100 calls, 50%), a bulkhead of 100 concurrent calls
// with no queue, a 1 s per-attempt limit.

const (
	pipeAttempts  = 3
	pipeBulkhead  = 100
	pipeTimeLimit = time.Second
)

// work is the protected call. It is reached through a variable so that the
// bare baseline cannot be inlined away.
var work = func(ctx context.Context) (int, error) {
	return 42, ctx.Err()
}

// BenchmarkPipeline: retry + breaker + bulkhead, success path.
func BenchmarkPipeline(b *testing.B) {
	runImpls(b, append(leveePipeline(false), []impl{
		{"failsafe", func(b *testing.B) { failsafePipeline(b, false) }},
		{"bare", benchBare},
	}...))
}

// BenchmarkPipelineParallel: Pipeline from GOMAXPROCS goroutines.
func BenchmarkPipelineParallel(b *testing.B) {
	runImpls(b, append(leveePipelineParallel(false), []impl{
		{"failsafe", func(b *testing.B) { failsafePipelineParallel(b, false) }},
		{"bare", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := work(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}},
	}...))
}

// BenchmarkPipelineTimeout: Pipeline plus a per-attempt time limit.
func BenchmarkPipelineTimeout(b *testing.B) {
	runImpls(b, append(leveePipeline(true), []impl{
		{"failsafe", func(b *testing.B) { failsafePipeline(b, true) }},
		{"ctxtimeout", func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				tctx, cancel := context.WithTimeout(ctx, pipeTimeLimit)
				_, err := work(tctx)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"bare", benchBare},
	}...))
}

func benchBare(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		if _, err := work(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// failsafeExecutor composes failsafe-go's retry policy (3 attempts, no
// delay), count-window breaker, bulkhead and, if timeout, per-attempt
// timeout, in the same order as Levee's default. The executor is built once
// and reused, as failsafe-go allows.
func failsafeExecutor(timeout bool) failsafe.Executor[int] {
	policies := []failsafe.Policy[int]{
		fsretry.NewBuilder[int]().WithMaxAttempts(pipeAttempts).WithDelay(0).Build(),
		fscb.NewBuilder[int]().WithFailureThresholdRatio(50, 100).Build(),
		fsbulkhead.New[int](pipeBulkhead),
	}
	if timeout {
		policies = append(policies, fstimeout.New[int](pipeTimeLimit))
	}
	return failsafe.With(policies...)
}

// failsafeWork hands the execution's context (which carries the timeout's
// deadline) to work; it captures nothing, so it costs no allocation.
func failsafeWork(exec failsafe.Execution[int]) (int, error) { return work(exec.Context()) }

func failsafePipeline(b *testing.B, timeout bool) {
	ex := failsafeExecutor(timeout)
	for b.Loop() {
		if _, err := ex.GetWithExecution(failsafeWork); err != nil {
			b.Fatal(err)
		}
	}
}

func failsafePipelineParallel(b *testing.B, timeout bool) {
	ex := failsafeExecutor(timeout)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ex.GetWithExecution(failsafeWork); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
