package leveegrpc_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/levee-go/levee/leveegrpc"
)

// TestZeroValues uses the zero value of each exported type as its doc says
// it may be used: none may panic.
func TestZeroValues(t *testing.T) {
	tests := []struct {
		name string
		use  func(t *testing.T)
	}{
		{"PushbackError", func(t *testing.T) {
			var e leveegrpc.PushbackError
			if e.Error() == "" {
				t.Error("empty message")
			}
			_, _, _, _ = e.Unwrap(), e.GRPCStatus(), e.RetryAfter(), e.NoRetry()
			_, _ = status.FromError(&e)
		}},
		{"Options", func(t *testing.T) {
			i := leveegrpc.UnaryServerGate(&testGate{}, leveegrpc.Options{})
			if _, err := i(context.Background(), nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) { return "ok", nil }); err != nil {
				t.Errorf("gate with zero Options: %v", err)
			}
		}},
		{"ClientOptions", func(t *testing.T) {
			i := leveegrpc.UnaryClient(leveegrpc.ClientOptions{})
			err := i(context.Background(), "/m", nil, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil })
			if err != nil {
				t.Errorf("client with zero ClientOptions: %v", err)
			}
		}},
		{"RecoverOptions", func(t *testing.T) {
			i := leveegrpc.UnaryServerRecover(leveegrpc.RecoverOptions{})
			if _, err := i(context.Background(), nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) { return "ok", nil }); err != nil {
				t.Errorf("recover with zero options: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.use)
	}
}
