// Package breaker is the part of Levee's breaker the tests need.
package breaker

import "github.com/levee-go/levee"

type Config struct{ Name string }

type Breaker struct{}

func (b *Breaker) Stage() levee.Stage { return 0 }

func New(cfg Config) (*Breaker, error) { return &Breaker{}, nil }

// NewConfigError is not a constructor of a policy.
func NewConfigError() *ConfigError { return nil }

type ConfigError struct{}
