package bench

// Levee's breaker sub-benchmarks; filled in once package breaker lands.

func leveeBreakerClosed() []impl         { return nil }
func leveeBreakerClosedTime() []impl     { return nil }
func leveeBreakerClosedParallel() []impl { return nil }
func leveeBreakerOpen() []impl           { return nil }
