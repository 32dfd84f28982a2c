package proxy

import (
	"math"
	"math/rand/v2"
	"net/http"
	"net/textproto"

	"github.com/levee-go/levee/gateway/config"
)

// balancer picks a target for a request. Implementations take no lock.
type balancer interface {
	pick(r *http.Request) *target
}

func newBalancer(b config.Balancing, targets []*target) balancer {
	switch b.Policy {
	case config.LeastRequest:
		return &leastRequest{targets: targets}
	case config.ConsistentHash:
		ch := &consistentHash{targets: targets}
		if b.Hash != nil {
			ch.header = textproto.CanonicalMIMEHeaderKey(b.Hash.Header)
			ch.cookie = b.Hash.Cookie
		}
		return ch
	}
	weights := make([]int, len(targets))
	for i, t := range targets {
		weights[i] = t.weight
	}
	return &roundRobin{targets: targets, schedule: smoothSchedule(weights)}
}

// roundRobin is weighted round robin over a schedule computed once.
type roundRobin struct {
	targets  []*target
	schedule []int32 // target indexes in smooth weighted round-robin order
	next     atomicCounter
}

func (b *roundRobin) pick(*http.Request) *target {
	n := b.next.Add(1) - 1
	return b.targets[b.schedule[n%uint64(len(b.schedule))]]
}

// leastRequest is power of two random choices: of two targets drawn at
// random, the one with fewer requests in flight per unit of weight.
type leastRequest struct {
	targets []*target
}

func (b *leastRequest) pick(*http.Request) *target {
	n := len(b.targets)
	if n == 1 {
		return b.targets[0]
	}
	i := rand.IntN(n)
	j := rand.IntN(n - 1)
	if j >= i {
		j++ // two distinct targets
	}
	a, c := b.targets[i], b.targets[j]
	// Compare active/weight without dividing: a.active × c.weight.
	if (a.active.Load()+1)*int64(c.weight) <= (c.active.Load()+1)*int64(a.weight) {
		return a
	}
	return c
}

// consistentHash sends the same key to the same target, by weighted
// rendezvous hashing: every target scores the key, the best score wins, so
// a target leaving the pool moves only its own keys, and every gateway
// computes the same choice without sharing state. A request without the
// key goes to a random target.
type consistentHash struct {
	targets []*target
	header  string // canonical; "" when hashing a cookie
	cookie  string
}

func (b *consistentHash) pick(r *http.Request) *target {
	key, ok := b.key(r)
	if !ok {
		return b.targets[rand.IntN(len(b.targets))]
	}
	return rendezvous(b.targets, key)
}

func (b *consistentHash) key(r *http.Request) (string, bool) {
	if b.header != "" {
		vs := r.Header[b.header]
		if len(vs) == 0 || vs[0] == "" {
			return "", false
		}
		return vs[0], true
	}
	c, err := r.Cookie(b.cookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// rendezvous returns the target with the highest weighted score for key:
// weight / −ln(u), with u in (0, 1) drawn from a hash of the key and the
// target's address.
func rendezvous(targets []*target, key string) *target {
	kh := fnv1a(fnvOffset, key)
	best, bestScore := targets[0], math.Inf(-1)
	for _, t := range targets {
		h := mix(fnv1a(kh, t.url.Host))
		u := (float64(h>>11) + 0.5) / (1 << 53)
		score := float64(t.weight) / -math.Log(u)
		if score > bestScore {
			best, bestScore = t, score
		}
	}
	return best
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// mix is splitmix64's finalizer: FNV's low bits are poor on their own.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
