// Package conformance is the test suite every Levee policy passes.
//
// Each policy package calls it from its own tests: [TestGate] for gates
// (breakers, limiters, bulkheads, shedders, fault injectors) and
// [TestPolicy] for any policy through [levee.Do] (retries, time limits,
// hedges, fallbacks of int results, wrappers). The suite checks, in terms
// of the root package only:
//
//   - cancellation: a cancelled context is honoured before a call and
//     during a wait, with the context's error, and nothing leaks;
//   - panics: a panic in the call passes through the pipeline as [levee.Do]
//     specifies (re-raised, or returned as a [*levee.PanicError]) and every
//     gate settles its permit with a failure;
//   - clock use: waits run on the clock the policy was built with (the
//     suite gives it a fake one and moves it), never on the real clock;
//   - allocations: no heap allocation where the policy promises none;
//   - goroutine leaks: the goroutine count returns to where it was;
//   - settling once: a permit settled a second time, a permit of an
//     earlier admission and a forged permit give back nothing ([SettleOnce]);
//   - refusals, for gates that can be put in a refusing state (an open
//     breaker, a drained limiter): they come at once, match
//     [levee.ErrRejected], cost no allocation where promised, and end on
//     the gate's clock.
//
// The suite describes a policy with a small struct ([Gate], [Policy]): how
// to build it on a clock and which promises it makes. [RunGate] and
// [RunPolicy] take a [T], so that the suite's own tests run it against
// policies broken on purpose and see it fail them.
package conformance
