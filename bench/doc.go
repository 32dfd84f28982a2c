// Package bench holds Levee's side-by-side benchmarks against peer
// libraries. It has no API: every figure is a benchmark function in a _test
// file, named Benchmark<Figure>, with one sub-benchmark per implementation
// (levee, a peer's short name, or bare for the unprotected baseline), so a
// single run compares them. See README.md for what each figure measures and
// run.sh for how the published tables are produced.
//
// This is a separate module so that the peers it compares never enter the
// dependency graph of the core module.
package bench
