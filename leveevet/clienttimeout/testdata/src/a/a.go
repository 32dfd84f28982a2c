package a

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Flagged.

var shared = &http.Client{} // want `http.Client without Timeout`

type api struct{ c *http.Client }

func newAPI(t http.RoundTripper) *api {
	return &api{c: &http.Client{Transport: t}} // want `http.Client without Timeout`
}

func value() http.Client {
	return http.Client{CheckRedirect: nil} // want `http.Client without Timeout`
}

func callerContext(ctx context.Context, u string) error {
	c := &http.Client{} // want `http.Client without Timeout`
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func oneRequestWithoutDeadline(u string) error {
	c := &http.Client{} // want `http.Client without Timeout`
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
	}
	resp, err := c.Get(u) // no deadline on this one
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func escapes(u string) *http.Client {
	c := &http.Client{} // want `http.Client without Timeout`
	return c
}

func defaultClient(req *http.Request) (*http.Response, error) {
	return http.DefaultClient.Do(req) // want `http.DefaultClient has no timeout`
}

func helpers(u string) {
	http.Get(u)                              // want `http.Get uses http.DefaultClient`
	http.Head(u)                             // want `http.Head uses http.DefaultClient`
	http.Post(u, "text/plain", nil)          // want `http.Post uses http.DefaultClient`
	http.PostForm(u, url.Values{"a": {"b"}}) // want `http.PostForm uses http.DefaultClient`
}

// Clean.

var bounded = &http.Client{Timeout: 10 * time.Second}

func withTimeout(t http.RoundTripper) *http.Client {
	return &http.Client{Transport: t, Timeout: 5 * time.Second}
}

func timeoutAssigned() *http.Client {
	c := &http.Client{}
	c.Timeout = 3 * time.Second
	return c
}

func everyRequestHasDeadline(u string) error {
	c := &http.Client{Transport: http.DefaultTransport}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(time.Second))
	defer dcancel()
	resp, err = c.Do(req.WithContext(dctx))
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func unkeyed(t http.RoundTripper) http.Client {
	return http.Client{t, nil, nil, time.Second}
}

// Methods and fields named like the package helpers are not the helpers.
func lookalikes(h http.Header) string { return h.Get("X") }

// A client kept in an unexported field, whose every request has a deadline.
type prober struct {
	client  *http.Client
	timeout time.Duration
}

func newProber() *prober {
	return &prober{client: &http.Client{Transport: http.DefaultTransport}}
}

func (p *prober) probe(u string) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// A client handed to a function of the package that sets the deadline.
func passedOn(u string) {
	client := &http.Client{}
	for range 3 {
		_ = send(client, u)
	}
}

func send(c *http.Client, u string) error {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Second))
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// An exported field may be used out of sight.
type Exposed struct{ Client *http.Client }

func newExposed() *Exposed {
	return &Exposed{Client: &http.Client{}} // want `http.Client without Timeout`
}

func passedToCallerDeadline(ctx context.Context, u string) {
	client := &http.Client{} // want `http.Client without Timeout`
	_ = sendCtx(ctx, client, u)
}

func sendCtx(ctx context.Context, c *http.Client, u string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// The caller's context gets a deadline of its own before use.
func passedAndBounded(ctx context.Context, u string) {
	client := &http.Client{}
	go func() { _ = sendBounded(ctx, client, u) }()
}

func sendBounded(ctx context.Context, c *http.Client, u string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// A deadline the analyzer cannot see, waived with a reason.
func waived(ctx context.Context, u string) error {
	//leveevet:ignore clienttimeout every caller's context carries a deadline from middleware
	c := &http.Client{}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func waivedForAnotherAnalyzer(ctx context.Context) *http.Client {
	//leveevet:ignore nextcall the wrong analyzer waives nothing
	return &http.Client{} // want `http.Client without Timeout`
}
