package leveehttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/leveehttp"
)

// idemServer serves h behind Idempotency with a memory store on the fake
// clock clk (nil: the real clock) over a loopback server.
func idemServer(t *testing.T, opts leveehttp.IdempotencyOptions, clk *clocktest.Fake, h http.Handler) (*httptest.Server, *leveehttp.IdempotencyMemory) {
	t.Helper()
	cfg := leveehttp.IdempotencyMemoryConfig{}
	if clk != nil {
		cfg.Clock = clk
	}
	store, err := leveehttp.NewIdempotencyMemory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(leveehttp.Idempotency(store, opts)(h))
	t.Cleanup(srv.Close)
	return srv, store
}

type idemResp struct {
	status int
	header http.Header
	body   string
}

// send makes one request; key "" sends no Idempotency-Key.
func send(t *testing.T, method, url, key, body string, hdr ...string) idemResp {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return idemResp{resp.StatusCode, resp.Header, string(b)}
}

// orders is a handler that creates an order per request it runs, echoing
// the body, and counts its runs.
type orders struct {
	runs   atomic.Int64
	status int
}

func (o *orders) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := o.runs.Add(1)
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Order", string(rune('0'+n)))
	w.Header().Set("Content-Type", "text/plain")
	st := o.status
	if st == 0 {
		st = http.StatusCreated
	}
	w.WriteHeader(st)
	_, _ = w.Write([]byte("order for " + string(b)))
}

func problemDetail(t *testing.T, r idemResp) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (body %q)", ct, r.body)
	}
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal([]byte(r.body), &p); err != nil {
		t.Fatalf("problem body %q: %v", r.body, err)
	}
	if p.Status != r.status {
		t.Errorf("problem status = %d, want %d", p.Status, r.status)
	}
	return p.Detail
}

func TestIdempotencyReplaysFinishedRequest(t *testing.T) {
	h := &orders{}
	srv, _ := idemServer(t, leveehttp.IdempotencyOptions{}, nil, h)
	first := send(t, "POST", srv.URL+"/orders", `"k-1"`, "book")
	if first.status != http.StatusCreated || first.body != "order for book" || first.header.Get("X-Order") != "1" {
		t.Fatalf("first = %d %q X-Order %q, want 201 \"order for book\" 1", first.status, first.body, first.header.Get("X-Order"))
	}
	if first.header.Get(leveehttp.HeaderIdempotentReplayed) != "" {
		t.Errorf("first response marked as a replay")
	}
	for _, key := range []string{`"k-1"`, "k-1"} { // quoted and bare name one key
		again := send(t, "POST", srv.URL+"/orders", key, "book")
		if again.status != first.status || again.body != first.body || again.header.Get("X-Order") != "1" {
			t.Errorf("retry with %s = %d %q X-Order %q, want the first response", key, again.status, again.body, again.header.Get("X-Order"))
		}
		if got := again.header.Get(leveehttp.HeaderIdempotentReplayed); got != "true" {
			t.Errorf("retry %s: Idempotent-Replayed = %q, want true", key, got)
		}
	}
	if n := h.runs.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
	other := send(t, "POST", srv.URL+"/orders", "k-2", "book")
	if other.header.Get("X-Order") != "2" || h.runs.Load() != 2 {
		t.Errorf("another key: X-Order %q, runs %d; want a new run", other.header.Get("X-Order"), h.runs.Load())
	}
}

func TestIdempotencyConflictWhileRunning(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var runs atomic.Int64
	srv, _ := idemServer(t, leveehttp.IdempotencyOptions{}, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		close(started)
		<-release
		_, _ = w.Write([]byte("done"))
	}))
	firstDone := make(chan idemResp, 1)
	go func() { firstDone <- send(t, "POST", srv.URL+"/pay", "k", "x") }()
	<-started
	dup := send(t, "POST", srv.URL+"/pay", "k", "x")
	if dup.status != http.StatusConflict {
		t.Fatalf("duplicate while running = %d, want 409", dup.status)
	}
	if d := problemDetail(t, dup); !strings.Contains(d, "still being processed") {
		t.Errorf("409 detail = %q", d)
	}
	mismatch := send(t, "POST", srv.URL+"/pay", "k", "y")
	if mismatch.status != http.StatusUnprocessableEntity {
		t.Errorf("other body while running = %d, want 422", mismatch.status)
	}
	close(release)
	if r := <-firstDone; r.status != http.StatusOK || r.body != "done" {
		t.Fatalf("first = %d %q", r.status, r.body)
	}
	if r := send(t, "POST", srv.URL+"/pay", "k", "x"); r.body != "done" || r.header.Get(leveehttp.HeaderIdempotentReplayed) != "true" {
		t.Errorf("after the first finished = %d %q, want the replay", r.status, r.body)
	}
	if runs.Load() != 1 {
		t.Errorf("handler ran %d times, want 1", runs.Load())
	}
}

func TestIdempotencyFingerprintMismatch(t *testing.T) {
	h := &orders{}
	srv, _ := idemServer(t, leveehttp.IdempotencyOptions{Methods: []string{"POST", "PUT"}}, nil, h)
	send(t, "POST", srv.URL+"/orders?x=1", "k", "book")
	for _, tc := range []struct{ name, method, path, body string }{
		{"body", "POST", "/orders?x=1", "pen"},
		{"path", "POST", "/other?x=1", "book"},
		{"query", "POST", "/orders?x=2", "book"},
		{"method", "PUT", "/orders?x=1", "book"},
	} {
		r := send(t, tc.method, srv.URL+tc.path, "k", tc.body)
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s differs: status %d, want 422", tc.name, r.status)
			continue
		}
		if d := problemDetail(t, r); !strings.Contains(d, "another request") {
			t.Errorf("%s: detail %q", tc.name, d)
		}
	}
	if h.runs.Load() != 1 {
		t.Errorf("handler ran %d times, want 1", h.runs.Load())
	}
}

func TestIdempotencyKeyRequiredAndMalformed(t *testing.T) {
	h := &orders{}
	srv, _ := idemServer(t, leveehttp.IdempotencyOptions{Required: true}, nil, h)
	for _, tc := range []struct {
		name   string
		hdr    []string
		detail string
	}{
		{"missing", nil, "Idempotency-Key required"},
		{"unterminated", []string{"Idempotency-Key", `"abc`}, "no closing quote"},
		{"space in bare key", []string{"Idempotency-Key", "a b"}, "not allowed"},
		{"repeated", []string{"Idempotency-Key", "a", "Idempotency-Key", "b"}, "appears 2 times"},
		{"too long", []string{"Idempotency-Key", strings.Repeat("k", 256)}, "more than 255"},
	} {
		r := send(t, "POST", srv.URL+"/orders", "", "book", tc.hdr...)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", tc.name, r.status)
			continue
		}
		if d := problemDetail(t, r); !strings.Contains(d, tc.detail) {
			t.Errorf("%s: detail %q, want it to contain %q", tc.name, d, tc.detail)
		}
	}
	if r := send(t, "GET", srv.URL+"/orders", "", ""); r.status != http.StatusCreated {
		t.Errorf("GET without key = %d, want it to pass (only POST and PATCH are covered)", r.status)
	}
	if h.runs.Load() != 1 {
		t.Errorf("handler ran %d times, want 1 (the GET)", h.runs.Load())
	}

	optional, _ := idemServer(t, leveehttp.IdempotencyOptions{}, nil, h)
	send(t, "POST", optional.URL+"/orders", "", "book")
	send(t, "POST", optional.URL+"/orders", "", "book")
	if h.runs.Load() != 3 {
		t.Errorf("without Required, keyless requests ran %d times in all, want 3", h.runs.Load())
	}
}

func TestIdempotencyDoesNotStoreRetryableAnswers(t *testing.T) {
	for _, st := range []int{500, 503, 429, 409, 408} {
		h := &orders{status: st}
		srv, _ := idemServer(t, leveehttp.IdempotencyOptions{}, nil, h)
		send(t, "POST", srv.URL, "k", "b")
		h.status = http.StatusCreated
		r := send(t, "POST", srv.URL, "k", "b")
		if r.status != http.StatusCreated || h.runs.Load() != 2 {
			t.Errorf("after a %d: retry = %d with %d runs, want a new run (201, 2 runs)", st, r.status, h.runs.Load())
		}
	}
	h := &orders{status: http.StatusBadRequest}
	srv, _ := idemServer(t, leveehttp.IdempotencyOptions{}, nil, h)
	send(t, "POST", srv.URL, "k", "b")
	if r := send(t, "POST", srv.URL, "k", "b"); r.status != 400 || h.runs.Load() != 1 {
		t.Errorf("after a 400: retry = %d with %d runs, want the 400 replayed", r.status, h.runs.Load())
	}
}

func TestIdempotencyPanicFreesKey(t *testing.T) {
	var runs atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if runs.Add(1) == 1 {
			panic("boom")
		}
		_, _ = w.Write([]byte("ok"))
	})
	rec := leveehttp.Recover(leveehttp.RecoverOptions{Logger: slog.New(slog.DiscardHandler)})
	store, _ := leveehttp.NewIdempotencyMemory(leveehttp.IdempotencyMemoryConfig{})
	srv := httptest.NewServer(rec(leveehttp.Idempotency(store, leveehttp.IdempotencyOptions{})(h)))
	defer srv.Close()
	if r := send(t, "POST", srv.URL, "k", "b"); r.status != 500 {
		t.Fatalf("panicking first request = %d, want 500 from Recover", r.status)
	}
	if r := send(t, "POST", srv.URL, "k", "b"); r.status != 200 || r.body != "ok" || runs.Load() != 2 {
		t.Errorf("retry after a panic = %d %q after %d runs, want a new run", r.status, r.body, runs.Load())
	}
}

func TestIdempotencyBounds(t *testing.T) {
	h := &orders{}
	srv, _ := idemServer(t, leveehttp.IdempotencyOptions{MaxResponseBytes: 10, MaxBodyBytes: 8}, nil, h)
	if r := send(t, "POST", srv.URL, "k", "123456789"); r.status != http.StatusRequestEntityTooLarge || h.runs.Load() != 0 {
		t.Errorf("9-byte body over an 8-byte bound = %d after %d runs, want 413 and no run", r.status, h.runs.Load())
	}
	send(t, "POST", srv.URL, "k", "12345678") // "order for 12345678" is over 10 bytes
	if r := send(t, "POST", srv.URL, "k", "12345678"); r.header.Get(leveehttp.HeaderIdempotentReplayed) != "" || h.runs.Load() != 2 {
		t.Errorf("response over MaxResponseBytes was replayed (runs %d), want it not stored", h.runs.Load())
	}
}

func TestIdempotencyScopesKeysPerClient(t *testing.T) {
	h := &orders{}
	scope := leveehttp.KeyHeader("X-Client")
	srv, _ := idemServer(t, leveehttp.IdempotencyOptions{Scope: scope}, nil, h)
	a := send(t, "POST", srv.URL, "k", "b", "X-Client", "alice")
	b := send(t, "POST", srv.URL, "k", "b", "X-Client", "mallory")
	if a.header.Get("X-Order") != "1" || b.header.Get("X-Order") != "2" || b.header.Get(leveehttp.HeaderIdempotentReplayed) != "" {
		t.Errorf("same key from two clients: X-Order %q and %q, want separate runs 1 and 2", a.header.Get("X-Order"), b.header.Get("X-Order"))
	}
}

func TestIdempotencyTTLAndLeaseOnFakeClock(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	h := &orders{}
	srv, _ := idemServer(t, leveehttp.IdempotencyOptions{TTL: time.Hour}, clk, h)
	send(t, "POST", srv.URL, "k", "b")
	clk.Advance(time.Hour - time.Second)
	if r := send(t, "POST", srv.URL, "k", "b"); r.header.Get(leveehttp.HeaderIdempotentReplayed) != "true" {
		t.Errorf("before the TTL: no replay")
	}
	clk.Advance(time.Second)
	if r := send(t, "POST", srv.URL, "k", "b"); r.header.Get(leveehttp.HeaderIdempotentReplayed) != "" || h.runs.Load() != 2 {
		t.Errorf("at the TTL: replayed or runs %d, want a new run", h.runs.Load())
	}

	// A claim whose holder died frees itself after its lease, and the dead
	// holder's late settle changes nothing.
	store, _ := leveehttp.NewIdempotencyMemory(leveehttp.IdempotencyMemoryConfig{Clock: clk})
	ctx := context.Background()
	if held, err := store.Claim(ctx, "key", []byte("P1"), time.Minute); held != nil || err != nil {
		t.Fatalf("first Claim = %q, %v; want the claim", held, err)
	}
	if held, _ := store.Claim(ctx, "key", []byte("P2"), time.Minute); string(held) != "P1" {
		t.Fatalf("second Claim within the lease = %q, want P1 held", held)
	}
	clk.Advance(time.Minute)
	if held, err := store.Claim(ctx, "key", []byte("P2"), time.Minute); held != nil || err != nil {
		t.Fatalf("Claim after the lease = %q, %v; want the claim", held, err)
	}
	_ = store.Settle(ctx, "key", []byte("P1"), []byte("D1"), time.Hour)
	if held, _ := store.Claim(ctx, "key", []byte("P3"), time.Minute); string(held) != "P2" {
		t.Errorf("after a stale settle the key holds %q, want P2", held)
	}
	_ = store.Settle(ctx, "key", []byte("P2"), []byte("D2"), time.Hour)
	if held, _ := store.Claim(ctx, "key", []byte("P3"), time.Minute); string(held) != "D2" {
		t.Errorf("after settling, the key holds %q, want D2", held)
	}
}

func TestIdempotencyMemoryBounded(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	ctx := context.Background()
	s, err := leveehttp.NewIdempotencyMemory(leveehttp.IdempotencyMemoryConfig{MaxEntries: 2, MaxBytes: 100, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	claim := func(k, v string) error { _, err := s.Claim(ctx, k, []byte(v), time.Minute); return err }
	_ = claim("a", "Pa")
	_ = s.Settle(ctx, "a", []byte("Pa"), []byte("Da"), 2*time.Hour)
	_ = claim("b", "Pb")
	_ = s.Settle(ctx, "b", []byte("Pb"), []byte("Db"), time.Hour)
	if err := claim("c", "Pc"); err != nil { // drops b, the soonest to expire
		t.Fatalf("Claim over MaxEntries with stored responses = %v, want room made", err)
	}
	if held, _ := s.Claim(ctx, "a", []byte("Px"), time.Minute); string(held) != "Da" {
		t.Errorf("a holds %q, want Da kept (b expires sooner)", held)
	}
	if s.Len() != 2 {
		t.Errorf("Len = %d, want 2", s.Len())
	}
	_ = s.Settle(ctx, "c", []byte("Pc"), nil, 0)
	_ = claim("d", "Pd")
	if err := claim("e", "Pe"); err != nil {
		t.Fatalf("Claim e = %v (a is a stored response and may go)", err)
	}
	if err := claim("f", "Pf"); !errors.Is(err, leveehttp.ErrIdempotencyFull) {
		t.Errorf("Claim with only running claims held = %v, want ErrIdempotencyFull", err)
	}
	if err := claim("g", string(bytes.Repeat([]byte("x"), 200))); !errors.Is(err, leveehttp.ErrIdempotencyFull) {
		t.Errorf("Claim bigger than MaxBytes = %v, want ErrIdempotencyFull", err)
	}
	clk.Advance(time.Minute)
	if err := claim("f", "Pf"); err != nil {
		t.Errorf("Claim after the leases expired = %v, want room", err)
	}

	for _, cfg := range []leveehttp.IdempotencyMemoryConfig{{MaxEntries: -1}, {MaxBytes: -1}} {
		if _, err := leveehttp.NewIdempotencyMemory(cfg); err == nil || !strings.Contains(err.Error(), "negative") {
			t.Errorf("NewIdempotencyMemory(%+v) = %v, want an error naming the field", cfg, err)
		}
	}
}

func TestIdempotencyStoreFull(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		_, _ = w.Write([]byte("ok"))
	})
	for _, failOpen := range []bool{false, true} {
		started, release = make(chan struct{}), make(chan struct{})
		store, _ := leveehttp.NewIdempotencyMemory(leveehttp.IdempotencyMemoryConfig{MaxEntries: 1})
		srv := httptest.NewServer(leveehttp.Idempotency(store, leveehttp.IdempotencyOptions{FailOpen: failOpen})(h))
		go func() { send(t, "POST", srv.URL+"/slow", "k1", "") }()
		<-started
		r := send(t, "POST", srv.URL+"/fast", "k2", "")
		want := http.StatusServiceUnavailable
		if failOpen {
			want = http.StatusOK
		}
		if r.status != want {
			t.Errorf("FailOpen %v: claim refused by a full store = %d, want %d", failOpen, r.status, want)
		}
		close(release)
		srv.Close()
	}
}

// TestIdempotencyConcurrentDuplicates sends 100 requests with one key at
// once: the handler runs once, every other request gets 409 or the replay.
func TestIdempotencyConcurrentDuplicates(t *testing.T) {
	h := &orders{}
	srv, _ := idemServer(t, leveehttp.IdempotencyOptions{}, nil, h)
	var wg sync.WaitGroup
	var conflicts, replays, firsts atomic.Int64
	for range 100 {
		wg.Go(func() {
			r := send(t, "POST", srv.URL, "same", "b")
			switch {
			case r.status == http.StatusConflict:
				conflicts.Add(1)
			case r.status == http.StatusCreated && r.header.Get(leveehttp.HeaderIdempotentReplayed) == "true":
				replays.Add(1)
			case r.status == http.StatusCreated:
				firsts.Add(1)
			default:
				t.Errorf("unexpected answer %d %q", r.status, r.body)
			}
		})
	}
	wg.Wait()
	if h.runs.Load() != 1 || firsts.Load() != 1 || conflicts.Load()+replays.Load() != 99 {
		t.Errorf("runs %d, first answers %d, 409s %d, replays %d; want 1 run and 99 refused or replayed",
			h.runs.Load(), firsts.Load(), conflicts.Load(), replays.Load())
	}
}
