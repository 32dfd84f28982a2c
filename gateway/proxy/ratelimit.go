package proxy

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/ratelimit"
	"github.com/levee-go/levee/redislimit"
	"github.com/levee-go/levee/shed"
	"github.com/redis/go-redis/v9"
)

// RateLimitFallbackHeader is the response header field that says a
// Redis-backed rate limit was decided by its on_redis_failure fallback
// (fail_open, local_share or fail_closed) because Redis could not answer
// in time: the limit the client sees is then not the shared one.
const RateLimitFallbackHeader = "Levee-RateLimit-Fallback"

// redisPrefix starts the Redis keys of the gateway's shared rate limits;
// the route's name follows, so that routes with different limits never
// share a key and gateways serving the same route share it.
const redisPrefix = "levee:gw:"

// admitState is what the admission policies of all routes share: the Redis
// client, made when the first route asks for it, and what Close stops.
type admitState struct {
	redisCfg *config.Redis
	redis    redis.UniversalClient
	cpu      *shed.CPUSampler // for shed.cpu, shared by every route
	closers  []func()
}

// close closes the Redis client and stops the CPU samplers.
func (s *admitState) close() {
	for _, c := range s.closers {
		c()
	}
	s.closers, s.cpu = nil, nil
	if s.redis != nil {
		_ = s.redis.Close()
		s.redis = nil
	}
}

// redisClient returns the client of the configuration's redis section,
// made on first use. Commands are bounded by redis.timeout through their
// context (ContextTimeoutEnabled), and a failed command is not retried, so
// that the fallback answers within the timeout.
func (s *admitState) redisClient() (redis.UniversalClient, error) {
	if s.redis != nil {
		return s.redis, nil
	}
	rc := s.redisCfg
	if rc == nil {
		return nil, fmt.Errorf("rate_limit.redis needs the top-level redis section")
	}
	opts := &redis.UniversalOptions{
		Addrs:                 rc.Addrs,
		Username:              string(rc.Username),
		Password:              string(rc.Password),
		DB:                    rc.DB,
		DialTimeout:           rc.Timeout,
		ReadTimeout:           rc.Timeout,
		WriteTimeout:          rc.Timeout,
		PoolTimeout:           rc.Timeout,
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
	}
	if rc.TLS {
		host, _, err := net.SplitHostPort(rc.Addrs[0])
		if err != nil {
			return nil, fmt.Errorf("redis.addrs[0]: %w", err)
		}
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	}
	s.redis = redis.NewUniversalClient(opts)
	return s.redis, nil
}

// rateLimit is a route's rate limit: a keyed limiter, local
// (ratelimit.Keyed) or shared through Redis (redislimit.Limiter).
type rateLimit struct {
	lim      levee.KeyedLimiter
	shared   *redislimit.Limiter // the same limiter when Redis-backed, else nil
	key      keyer
	headers  leveehttp.RateLimitHeaders
	fallback string           // on_redis_failure, as configured
	conf     config.RateLimit // as configured, for [Proxy.State]
}

func (p *Proxy) newRateLimit(route string, rl config.RateLimit) (*rateLimit, error) {
	if rl.Rate.Count <= 0 || rl.Rate.Count > 1<<31-1 {
		return nil, fmt.Errorf("rate_limit.rate %v is out of range", rl.Rate)
	}
	l := &rateLimit{key: compileKey(rl.Key), headers: leveehttp.RateLimitHeaders{Policy: route}, conf: rl}
	if len(l.key) == 0 {
		l.key = keyer{{kind: keyRoute}}
	}
	events := int(rl.Rate.Count)
	if !rl.Redis {
		k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{
			Name:  route,
			Rate:  ratelimit.Rate{Events: events, Per: rl.Rate.Per},
			Burst: rl.Burst,
			Clock: p.clk,
		})
		if err != nil {
			return nil, fmt.Errorf("rate_limit: %w", err)
		}
		l.lim = k
		return l, nil
	}
	client, err := p.adm.redisClient()
	if err != nil {
		return nil, err
	}
	var fb redislimit.Fallback
	switch rl.OnRedisFailure {
	case config.FailOpen:
		fb = redislimit.FailOpen
	case config.FailClosed:
		fb = redislimit.FailClosed
	default:
		fb = redislimit.LocalShare
	}
	rc := p.adm.redisCfg
	shared, err := redislimit.New(redislimit.Config{
		Name:      route,
		Client:    client,
		Limit:     events,
		Period:    rl.Rate.Per,
		Burst:     rl.Burst,
		Prefix:    redisPrefix + strings.NewReplacer("{", "_", "}", "_").Replace(route) + ":",
		Timeout:   rc.Timeout,
		Fallback:  fb,
		Instances: max(rl.Instances, 1),
		Logger:    p.log.With("route", route),
		Clock:     p.clk,
	})
	if err != nil {
		return nil, fmt.Errorf("rate_limit: %w", err)
	}
	l.lim, l.shared = shared, shared
	l.fallback = string(rl.OnRedisFailure)
	if l.fallback == "" {
		l.fallback = string(config.LocalShare)
	}
	return l, nil
}

// admit decides r against the limit. An admitted request's response gets
// the RateLimit fields; a refused one is answered 429 with Retry-After,
// the RateLimit fields and a problem+json body, and admit returns false.
func (l *rateLimit) admit(w http.ResponseWriter, r *http.Request, ex *exchange, route string) bool {
	key := l.key.key(r, ex, route)
	var (
		d        levee.Decision
		fellBack bool
		err      error
	)
	if l.shared != nil {
		d, fellBack, err = l.shared.DecideKeyNFallback(r.Context(), key, 1)
	} else {
		d, err = l.lim.DecideKey(r.Context(), key)
	}
	h := w.Header()
	if fellBack {
		h.Set(RateLimitFallbackHeader, l.fallback)
	}
	if err != nil {
		// Only a client that went away (or a limiter not made by New)
		// leaves no decision.
		writeProblem(w, http.StatusServiceUnavailable, ReasonRateLimited, route, "the rate limit could not be decided")
		return false
	}
	leveehttp.WriteRateLimitHeaders(h, d, l.headers)
	if d.Allowed {
		return true
	}
	writeProblem(w, http.StatusTooManyRequests, ReasonRateLimited, route, "the request is over the route's rate limit; retry after the time in Retry-After")
	return false
}
