package leveegrpc_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveegrpc"
)

// testGate admits unless refuse is set, and counts outcomes.
type testGate struct {
	refuse  atomic.Pointer[error]
	results [3]atomic.Int64
}

func (g *testGate) Stage() levee.Stage { return levee.StageBreaker }
func (g *testGate) Acquire(context.Context) (levee.Permit, error) {
	if e := g.refuse.Load(); e != nil {
		return levee.Permit{}, *e
	}
	return levee.NewPermit(g, 0, 0), nil
}
func (g *testGate) Release(_ levee.Permit, o levee.Outcome) { g.results[o.Result].Add(1) }
func (g *testGate) reject(err error)                        { g.refuse.Store(&err) }

// service answers Check by the requested service name, so tests choose the
// behaviour per call, over a real socket.
type service struct {
	healthpb.UnimplementedHealthServer
	mu       sync.Mutex
	calls    int
	seen     []string // criticality per call
	deadline []time.Duration
	failN    int // "flaky" fails this many times first
}

func (s *service) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.seen = append(s.seen, levee.CriticalityFrom(ctx).String())
	if dl, ok := ctx.Deadline(); ok {
		s.deadline = append(s.deadline, time.Until(dl))
	}
	s.mu.Unlock()
	switch req.Service {
	case "fail":
		return nil, status.Error(codes.Unavailable, "down")
	case "notfound":
		return nil, status.Error(codes.NotFound, "no such thing")
	case "panic":
		panic("handler exploded")
	case "pushback":
		grpc.SetTrailer(ctx, metadata.Pairs("grpc-retry-pushback-ms", "1500"))
		return nil, status.Error(codes.Unavailable, "busy")
	case "stop":
		grpc.SetTrailer(ctx, metadata.Pairs("grpc-retry-pushback-ms", "-1"))
		return nil, status.Error(codes.Unavailable, "go away")
	case "flaky":
		if n <= s.failN {
			return nil, status.Error(codes.Unavailable, "flaky")
		}
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (s *service) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	for range 3 {
		if err := stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
			return err
		}
	}
	if req.Service == "fail" {
		return status.Error(codes.Internal, "stream broke")
	}
	return nil
}

// start serves svc on a real loopback socket with the given server options
// and returns a client connection with the given dial options.
func start(t *testing.T, svc *service, sopts []grpc.ServerOption, copts ...grpc.DialOption) healthpb.HealthClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(sopts...)
	healthpb.RegisterHealthServer(srv, svc)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), append(copts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func check(c healthpb.HealthClient, ctx context.Context, name string, opts ...grpc.CallOption) error {
	_, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: name}, opts...)
	return err
}

func TestServerGateOutcomesAndRejections(t *testing.T) {
	g := &testGate{}
	var events []levee.Event
	var mu sync.Mutex
	c := start(t, &service{}, []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(
			leveegrpc.UnaryServerRecover(leveegrpc.RecoverOptions{Logger: slog.New(slog.DiscardHandler), OnEvent: func(e levee.Event) {
				mu.Lock()
				events = append(events, e)
				mu.Unlock()
			}}),
			leveegrpc.UnaryServerGate(g, leveegrpc.Options{})),
	})
	ctx := context.Background()
	if err := check(c, ctx, "ok"); err != nil {
		t.Fatal(err)
	}
	if code := status.Code(check(c, ctx, "fail")); code != codes.Unavailable {
		t.Errorf("fail: code %v", code)
	}
	if code := status.Code(check(c, ctx, "notfound")); code != codes.NotFound {
		t.Errorf("notfound: code %v", code)
	}
	if code := status.Code(check(c, ctx, "panic")); code != codes.Internal {
		t.Errorf("panic: code %v, want Internal from the recovery interceptor", code)
	}
	if s, f := g.results[levee.Success].Load(), g.results[levee.Failure].Load(); s != 2 || f != 2 {
		t.Errorf("successes/failures = %d/%d, want 2/2 (NotFound is not the server's failure; the panic is)", s, f)
	}
	mu.Lock()
	if len(events) != 1 || events[0].Kind != levee.EventPanic || events[0].Name != "/grpc.health.v1.Health/Check" {
		t.Errorf("panic events = %+v", events)
	}
	mu.Unlock()

	tests := []struct {
		err      error
		code     codes.Code
		pushback string
	}{
		{levee.Reject(levee.ErrLimited, 1500*time.Millisecond), codes.ResourceExhausted, "1500"},
		{levee.Reject(levee.ErrOpen, 2*time.Second), codes.Unavailable, "2000"},
		// Rounded up: a client told 1999 would come back early and be refused again.
		{levee.Reject(levee.ErrOpen, 1999700*time.Microsecond), codes.Unavailable, "2000"},
		{levee.Reject(levee.ErrLimited, levee.Never), codes.ResourceExhausted, "-1"},
		{levee.ErrShed, codes.Unavailable, ""},
	}
	for _, tt := range tests {
		g.reject(tt.err)
		var trailer metadata.MD
		err := check(c, ctx, "ok", grpc.Trailer(&trailer))
		if status.Code(err) != tt.code {
			t.Errorf("rejection %v: code %v, want %v", tt.err, status.Code(err), tt.code)
		}
		if got := strings.Join(trailer.Get("grpc-retry-pushback-ms"), ","); got != tt.pushback {
			t.Errorf("rejection %v: pushback %q, want %q", tt.err, got, tt.pushback)
		}
	}
}

func TestTapHandleRefusesBeforeTheHandler(t *testing.T) {
	g := &testGate{}
	g.reject(levee.ErrLimited)
	svc := &service{}
	c := start(t, svc, []grpc.ServerOption{grpc.InTapHandle(leveegrpc.TapHandle(g))})
	err := check(c, context.Background(), "ok")
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("tap refusal: %v, want ResourceExhausted", err)
	}
	if svc.calls != 0 {
		t.Errorf("handler ran %d times behind a refusing tap", svc.calls)
	}
	g.refuse.Store(nil)
	if err := check(c, context.Background(), "ok"); err != nil || svc.calls != 1 {
		t.Errorf("tap admission: %v, calls %d", err, svc.calls)
	}
}

// pushRetrier retries failures up to max attempts, waiting RetryAfter and
// stopping on NoRetry; it records waits instead of sleeping.
type pushRetrier struct {
	max   int
	waits []time.Duration
}

func (r *pushRetrier) Stage() levee.Stage { return levee.StageRetry }
func (r *pushRetrier) Attempted(_ context.Context, a levee.Attempt) levee.RetryDecision {
	var nr interface{ NoRetry() bool }
	if a.Result != levee.Failure || a.N >= r.max || errors.As(a.Err, &nr) && nr.NoRetry() {
		return levee.RetryDecision{}
	}
	d, _ := levee.RetryAfter(a.Err)
	return levee.RetryDecision{Retry: true, Delay: d}
}
func (r *pushRetrier) Wait(_ context.Context, d time.Duration) error {
	r.waits = append(r.waits, d)
	return nil
}

func TestClientPipelinePushbackAndBreaker(t *testing.T) {
	svc := &service{failN: 2}
	r := &pushRetrier{max: 5}
	g := &testGate{}
	p := levee.New(r, g)
	c := start(t, svc, nil, grpc.WithChainUnaryInterceptor(leveegrpc.UnaryClient(leveegrpc.ClientOptions{
		Pipeline: func(method string) *levee.Pipeline { return p },
	})))
	ctx := context.Background()
	if err := check(c, ctx, "flaky"); err != nil {
		t.Fatalf("flaky with retries: %v", err)
	}
	if svc.calls != 3 || g.results[levee.Failure].Load() != 2 || g.results[levee.Success].Load() != 1 {
		t.Errorf("calls %d, gate failures %d successes %d; want 3, 2, 1", svc.calls, g.results[levee.Failure].Load(), g.results[levee.Success].Load())
	}

	r.waits, svc.calls = nil, 0
	err := check(c, ctx, "pushback")
	if status.Code(err) != codes.Unavailable || svc.calls != 5 {
		t.Errorf("pushback: %v after %d calls, want Unavailable after 5", err, svc.calls)
	}
	if len(r.waits) != 4 || r.waits[0] != 1500*time.Millisecond {
		t.Errorf("waits = %v, want 4 × 1.5s from the pushback trailer", r.waits)
	}

	svc.calls = 0
	if err := check(c, ctx, "stop"); status.Code(err) != codes.Unavailable || svc.calls != 1 {
		t.Errorf("negative pushback: %v after %d calls, want one call and no retry", err, svc.calls)
	}
	svc.calls = 0
	if err := check(c, ctx, "notfound"); status.Code(err) != codes.NotFound || svc.calls != 1 {
		t.Errorf("NotFound: %v after %d calls, want it returned as is, not retried", err, svc.calls)
	}

	g.reject(levee.Reject(levee.ErrOpen, time.Second))
	svc.calls = 0
	if err := check(c, ctx, "ok"); status.Code(err) != codes.Unavailable || svc.calls != 0 {
		t.Errorf("open client breaker: %v after %d calls, want Unavailable without calling", err, svc.calls)
	}
}

func TestCriticalityAndDeadlineCrossTheWire(t *testing.T) {
	svc := &service{}
	c := start(t, svc, []grpc.ServerOption{grpc.UnaryInterceptor(leveegrpc.UnaryServerGate(&testGate{}, leveegrpc.Options{}))},
		grpc.WithUnaryInterceptor(leveegrpc.UnaryClient(leveegrpc.ClientOptions{})))
	ctx, cancel := context.WithTimeout(levee.WithCriticality(context.Background(), levee.SheddablePlus), 2*time.Second)
	defer cancel()
	if err := check(c, ctx, "ok"); err != nil {
		t.Fatal(err)
	}
	if svc.seen[0] != "SHEDDABLE_PLUS" {
		t.Errorf("server saw criticality %s, want SHEDDABLE_PLUS", svc.seen[0])
	}
	if len(svc.deadline) != 1 || svc.deadline[0] > 2*time.Second || svc.deadline[0] < time.Second {
		t.Errorf("server deadline = %v, want just under 2s", svc.deadline)
	}
}

func TestStreams(t *testing.T) {
	sg, cg := &testGate{}, &testGate{}
	c := start(t, &service{}, []grpc.ServerOption{grpc.ChainStreamInterceptor(
		leveegrpc.StreamServerRecover(leveegrpc.RecoverOptions{Logger: slog.New(slog.DiscardHandler)}),
		leveegrpc.StreamServerGate(sg, leveegrpc.Options{}))},
		grpc.WithStreamInterceptor(leveegrpc.StreamClient(leveegrpc.ClientOptions{Pipeline: func(string) *levee.Pipeline { return levee.New(cg) }})))
	for _, name := range []string{"ok", "fail"} {
		stream, err := c.Watch(context.Background(), &healthpb.HealthCheckRequest{Service: name})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			_, err = stream.Recv()
			if err != nil {
				break
			}
			n++
		}
		if n != 3 {
			t.Errorf("%s: received %d messages through the interceptors, want 3", name, n)
		}
		if name == "fail" && status.Code(err) != codes.Internal {
			t.Errorf("fail stream ended with %v", err)
		}
	}
	if s, f := sg.results[levee.Success].Load(), sg.results[levee.Failure].Load(); s != 1 || f != 1 {
		t.Errorf("server stream gate successes/failures = %d/%d, want 1/1", s, f)
	}
	if cg.results[levee.Success].Load() != 2 {
		t.Errorf("client stream gate admitted %d stream setups, want 2", cg.results[levee.Success].Load())
	}
	sg.reject(levee.Reject(levee.ErrLimited, time.Second))
	stream, err := c.Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("refused stream: %v, want ResourceExhausted", err)
	}
}

func TestServerPipelineTimeout(t *testing.T) {
	g := &testGate{}
	c := start(t, &service{}, []grpc.ServerOption{grpc.UnaryInterceptor(leveegrpc.UnaryServerPipeline(levee.New(g, slowScope{}), leveegrpc.Options{}))})
	if err := check(c, context.Background(), "ok"); err != nil {
		t.Fatal(err)
	}
	if code := status.Code(check(c, context.Background(), "notfound")); code != codes.NotFound {
		t.Errorf("NotFound through the pipeline came back as %v", code)
	}
	if s, f, i := g.results[0].Load(), g.results[1].Load(), g.results[2].Load(); s != 1 || f != 0 || i != 1 {
		t.Errorf("gate success/failure/ignored = %d/%d/%d, want 1/0/1", s, f, i)
	}
	g.reject(levee.ErrBulkheadFull)
	if code := status.Code(check(c, context.Background(), "ok")); code != codes.Unavailable {
		t.Errorf("rejection through the pipeline came back as %v", code)
	}
}

// slowScope is a time limit that always reports a timeout after the call,
// to check the status mapping.
type slowScope struct{}

func (slowScope) Stage() levee.Stage { return levee.StageTimeout }
func (slowScope) Enter(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(ctx)
}
func (slowScope) Exit(_, _ context.Context, err error) error { return err }

func TestCodeFor(t *testing.T) {
	tests := []struct {
		err  error
		want codes.Code
	}{
		{levee.ErrLimited, codes.ResourceExhausted},
		{levee.ErrOpen, codes.Unavailable},
		{levee.ErrShed, codes.Unavailable},
		{levee.ErrTimeout, codes.DeadlineExceeded},
		{context.Canceled, codes.Canceled},
		{errors.New("x"), codes.Unknown},
	}
	for _, tt := range tests {
		if got := leveegrpc.CodeFor(tt.err); got != tt.want {
			t.Errorf("CodeFor(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	st := status.Error(codes.NotFound, "x")
	if leveegrpc.Status(st) != st || leveegrpc.Status(nil) != nil {
		t.Error("Status does not pass status errors and nil through")
	}
}
