package bench

// Levee's pipelines; filled in once retry, breaker, concurrency and
// timelimit land.

func leveePipeline(timeout bool) []impl         { return nil }
func leveePipelineParallel(timeout bool) []impl { return nil }
