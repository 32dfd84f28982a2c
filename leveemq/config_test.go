package leveemq_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/levee-go/levee/leveemq"
	"github.com/levee-go/levee/leveemq/pgstore"
	"github.com/levee-go/levee/leveemq/rabbitmq"
)

func TestNewNamesTheBadField(t *testing.T) {
	// A source that is never used: New only validates.
	var src leveemq.Source = &rabbitmq.Source{}
	h := func(context.Context, leveemq.Message) error { return nil }
	for _, tc := range []struct {
		cfg   leveemq.Config
		field string
	}{
		{leveemq.Config{Handler: h}, "Source"},
		{leveemq.Config{Source: src}, "Handler"},
		{leveemq.Config{Source: src, Handler: h, MaxAttempts: -1}, "MaxAttempts"},
		{leveemq.Config{Source: src, Handler: h, Pause: -1}, "Pause"},
		{leveemq.Config{Source: src, Handler: h, Lease: -1}, "Lease"},
	} {
		_, err := leveemq.New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), "Config."+tc.field) {
			t.Errorf("New(%+v) = %v, want an error naming Config.%s", tc.cfg, err, tc.field)
		}
	}
	c, err := leveemq.New(leveemq.Config{Source: src, Handler: h})
	if err != nil {
		t.Fatalf("New with defaults: %v", err)
	}
	if s := c.Stats(); s != (leveemq.Stats{}) {
		t.Errorf("new consumer's stats = %+v, want zero", s)
	}
}

func TestAdaptersRefuseBadConfig(t *testing.T) {
	if _, err := rabbitmq.New(rabbitmq.Config{Topology: rabbitmq.Topology{Queue: "q"}}); err == nil || !strings.Contains(err.Error(), "Conn") {
		t.Errorf("rabbitmq.New without a connection = %v, want an error naming Conn", err)
	}
	if _, err := rabbitmq.Declare(nil, rabbitmq.Topology{}); err == nil || !strings.Contains(err.Error(), "Queue") {
		t.Errorf("rabbitmq.Declare without a queue = %v, want an error naming Queue", err)
	}
	if _, err := pgstore.New(pgstore.Config{}); err == nil || !strings.Contains(err.Error(), "Pool") {
		t.Errorf("pgstore.New without a pool = %v, want an error naming Pool", err)
	}
	pool, err := pgxpool.New(context.Background(), "postgres://127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pgstore.New(pgstore.Config{Pool: pool, Table: "x; drop"}); err == nil || !strings.Contains(err.Error(), "Table") {
		t.Errorf("pgstore.New with a bad table = %v, want an error naming Table", err)
	}
}
