// Package archtest enforces the import rules of the repository's design:
// which packages may depend on which. [Rules] states them as data, one rule
// per folder, and the tests check every package of every module against
// them with go list; a package no rule covers fails the test, so a new
// folder must say where it stands.
package archtest
