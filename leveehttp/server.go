package leveehttp

import (
	"net/http"
	"time"
)

// ServerConfig holds the timeouts of [NewServer]. Zero fields take the
// documented defaults; a negative value disables that limit.
type ServerConfig struct {
	// ReadHeaderTimeout bounds reading the request line and headers, the
	// defence against slow-header (Slowloris) clients. Default 5s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request, body included. Default
	// 30s.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the response. Default 60s; set it negative for servers that
	// stream long responses (server-sent events), and bound those streams
	// in the handler instead.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for the
	// next request. Default 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request header size. Default 1 MiB.
	MaxHeaderBytes int
}

func pick(v, def time.Duration) time.Duration {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	}
	return v
}

// NewServer returns an http.Server for addr and h whose timeouts are set to
// safe values: a zero http.Server waits forever on slow clients.
func NewServer(addr string, h http.Handler, cfg ServerConfig) *http.Server {
	maxHeader := cfg.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = 1 << 20
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: pick(cfg.ReadHeaderTimeout, 5*time.Second),
		ReadTimeout:       pick(cfg.ReadTimeout, 30*time.Second),
		WriteTimeout:      pick(cfg.WriteTimeout, 60*time.Second),
		IdleTimeout:       pick(cfg.IdleTimeout, 120*time.Second),
		MaxHeaderBytes:    maxHeader,
	}
}
