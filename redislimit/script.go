package redislimit

import (
	"errors"
	"fmt"
	"time"
)

// gcraScript is internal/gcra.Decide run atomically in Redis, plus the read
// and write of the key's theoretical arrival time (TAT). Keep the two in step.
//
// KEYS[1]  the key, hash-tagged so one decision touches one slot
// ARGV[1]  interval: microseconds per token (may be fractional)
// ARGV[2]  burst: whole tokens
// ARGV[3]  want: tokens to take
// ARGV[4]  min: take nothing unless at least this many are available
// ARGV[5]  now in microseconds, or -1 to read the server's TIME (production);
//
//	tests pass their own clock, and since the server's clock cannot
//	then time the key's expiry, it is kept for a minute instead
//
// Reply: {granted, remaining, retry_after_us, reset_after_us}.
//
// Using the server's clock makes instances with skewed clocks agree. Before
// Redis 5 a script that reads TIME must switch to effects replication before
// writing; later versions do it always, and 7 deprecates the call, hence the
// guard.
const gcraScript = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local min = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local tau = interval * burst
local avail = math.floor((tau - (tat - now)) / interval)
avail = math.max(0, math.min(avail, burst))
local grant = 0
if avail >= min then grant = math.min(avail, want) end
if grant > 0 then
  local newtat = tat + grant * interval
  local retry = math.max(0, newtat + interval - tau - now)
  local reset = math.ceil(newtat - now)
  local ttl = math.max(1, math.ceil(reset / 1000))
  if tonumber(ARGV[5]) >= 0 then ttl = 60000 end
  redis.call('SET', KEYS[1], string.format('%.17g', newtat), 'PX', ttl)
  return {grant, avail - grant, math.ceil(retry), reset}
end
local retry = math.max(0, tat + min * interval - tau - now)
return {0, avail, math.ceil(retry), math.ceil(tat - now)}
`

// reply is the script's answer in Go units.
type reply struct {
	granted    int64
	remaining  int64
	retryAfter time.Duration
	resetAfter time.Duration
}

// errReply reports a script reply of the wrong shape: a different script
// under the same SHA, a proxy mangling replies, or a bug.
var errReply = errors.New("redislimit: malformed script reply")

// maxMicros bounds the durations a reply may carry (about 292 years in
// nanoseconds would overflow; a century is plenty).
const maxMicros = int64(100 * 365 * 24 * time.Hour / time.Microsecond)

// parseReply checks and converts the script's reply. want is the number of
// tokens asked for; a grant above it is refused as malformed.
func parseReply(v any, want int64) (reply, error) {
	a, ok := v.([]any)
	if !ok {
		return reply{}, fmt.Errorf("%w: %T, want an array", errReply, v)
	}
	if len(a) != 4 {
		return reply{}, fmt.Errorf("%w: %d elements, want 4", errReply, len(a))
	}
	var n [4]int64
	for i, e := range a {
		x, ok := e.(int64)
		if !ok {
			return reply{}, fmt.Errorf("%w: element %d is %T, want an integer", errReply, i, e)
		}
		if x < 0 {
			return reply{}, fmt.Errorf("%w: element %d is %d, want >= 0", errReply, i, x)
		}
		n[i] = x
	}
	if n[0] > want {
		return reply{}, fmt.Errorf("%w: granted %d of %d", errReply, n[0], want)
	}
	if n[2] > maxMicros || n[3] > maxMicros {
		return reply{}, fmt.Errorf("%w: duration out of range", errReply)
	}
	return reply{
		granted:    n[0],
		remaining:  n[1],
		retryAfter: time.Duration(n[2]) * time.Microsecond,
		resetAfter: time.Duration(n[3]) * time.Microsecond,
	}, nil
}
