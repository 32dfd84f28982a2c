// Package archtest holds the test that enforces the import rules of the
// repository's design: which packages may depend on which. It has no code of
// its own.
package archtest
