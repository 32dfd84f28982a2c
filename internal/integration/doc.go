// Package integration holds tests that compose several policy packages in
// one pipeline: policy packages may not import each other, so their
// combined behaviour is checked here. It has no code of its own.
package integration
