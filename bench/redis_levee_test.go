package bench

// Levee's Redis limiter; filled in once module redislimit lands.

func leveeRedisLimiters() []redisImpl { return nil }
