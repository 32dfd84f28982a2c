package reload_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/reload"
)

// A controller serves one configuration and replaces it: a document that
// is not valid is refused with its problems, an identical one is a no-op,
// and a new one is swapped in, reporting what state it kept.
func Example() {
	const v1 = `
listeners: [{name: public, address: "127.0.0.1:8080"}]
upstreams: [{name: app, targets: [{url: "127.0.0.1:9000"}]}]
routes: [{name: all, upstream: app, policies: {rate_limit: {rate: 100/s}}}]
`
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := reload.Options{Logger: log}
	opts.Proxy.Logger = log
	c, err := reload.New(nil, []byte(v1), reload.SourceFile, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	// Serve c.Handler("public") on the listener; every request takes the
	// runtime current when it arrives.

	ctx := context.Background()
	_, err = c.Apply(ctx, []byte(strings.Replace(v1, "upstream: app", "upstream: ap", 1)), reload.ApplyOptions{})
	var ps config.Problems
	fmt.Println(errors.As(err, &ps), ps[0].Path)

	rep, _ := c.Apply(ctx, []byte(v1), reload.ApplyOptions{})
	fmt.Println("unchanged:", rep.Unchanged)

	const v2 = `
listeners: [{name: public, address: "127.0.0.1:8080"}]
upstreams: [{name: app, targets: [{url: "127.0.0.1:9000"}]}]
routes:
  - {name: all, upstream: app, policies: {rate_limit: {rate: 100/s}}}
  - {name: health, upstream: app, priority: 1, match: {path_exact: /healthz}}
`
	rep, err = c.Apply(ctx, []byte(v2), reload.ApplyOptions{IfMatch: c.Current().Hash})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("version", rep.Version.Version, "replaced", rep.Previous)
	for _, it := range rep.Carried {
		fmt.Println(it.Kind, it.Name, it.Carried, it.Reason)
	}
	// Output:
	// true routes[0].upstream
	// unchanged: true
	// version 2 replaced 1
	// slo gateway true unchanged
	// rate_limit all true unchanged
}
