// Package ratelimit provides local rate limiters: a token bucket, GCRA and a
// sliding-window counter, plus a keyed limiter with bounded memory.
package ratelimit
