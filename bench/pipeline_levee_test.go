package bench

import (
	"context"
	"testing"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/retry"
	"github.com/levee-go/levee/timelimit"
)

// leveePipeline: levee.Do over levee.New(retry, breaker, bulkhead[,
// timelimit]), built once, with the settings shared by every implementation
// (see pipeline_test.go). levee.New sorts the policies into the default
// order, the same as the failsafe-go composition.
func leveePipeline(timeout bool) []impl {
	return []impl{{"levee", func(b *testing.B) {
		p := newLeveePipeline(b, timeout)
		ctx := context.Background()
		for b.Loop() {
			if _, err := levee.Do(ctx, p, work); err != nil {
				b.Fatal(err)
			}
		}
	}}}
}

func leveePipelineParallel(timeout bool) []impl {
	return []impl{{"levee", func(b *testing.B) {
		p := newLeveePipeline(b, timeout)
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				if _, err := levee.Do(ctx, p, work); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}}}
}

func newLeveePipeline(b *testing.B, timeout bool) *levee.Pipeline {
	r, err := retry.New(retry.Config{MaxAttempts: pipeAttempts})
	if err != nil {
		b.Fatal(err)
	}
	cb, err := breaker.New(breaker.Config{WindowSize: 100, FailureRate: 50})
	if err != nil {
		b.Fatal(err)
	}
	bh, err := concurrency.NewBulkhead(concurrency.BulkheadConfig{MaxConcurrent: pipeBulkhead})
	if err != nil {
		b.Fatal(err)
	}
	policies := []levee.Policy{r, cb, bh}
	if timeout {
		tl, err := timelimit.New(timelimit.Config{Timeout: pipeTimeLimit})
		if err != nil {
			b.Fatal(err)
		}
		policies = append(policies, tl)
	}
	return levee.New(policies...)
}
