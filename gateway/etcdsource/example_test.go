package etcdsource_test

import (
	"context"
	"log"
	"os/signal"
	"syscall"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/etcdsource"
)

// A source hands each value of the key to a function that parses and
// validates it before anything else sees it, so a bad value never replaces
// a running configuration.
func ExampleSource() {
	apply := func(ctx context.Context, raw []byte, revision int64) error {
		cfg, err := config.Parse(raw, config.Options{})
		if err != nil {
			return err // reported by Status and the log; the next change is tried
		}
		log.Printf("configuration of revision %d: %d routes", revision, len(cfg.Routes))
		return nil
	}
	src, err := etcdsource.New(etcdsource.Config{
		Endpoints: []string{"http://127.0.0.1:2379"},
		Key:       "/levee/gateway.yaml",
	}, apply)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	src.Run(ctx) // until SIGTERM
}
