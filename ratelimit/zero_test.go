package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/ratelimit"
)

// refuses checks what a limiter its constructor did not make returns: a
// refusal of every kind, never an admission.
func refuses(method string, out []reflect.Value) error {
	for _, v := range out {
		switch x := v.Interface().(type) {
		case bool:
			if x {
				return fmt.Errorf("%s = true, want false (refused)", method)
			}
		case levee.Decision:
			if x.Allowed || x.RetryAfter != levee.Never {
				return fmt.Errorf("%s = %+v, want a refusal with RetryAfter Never", method, x)
			}
		case ratelimit.Reservation:
			if x.OK() || x.Delay() != levee.Never {
				return fmt.Errorf("%s: OK() = %v, Delay() = %v, want false, Never", method, x.OK(), x.Delay())
			}
		case error:
			if !errors.Is(x, ratelimit.ErrNotNew) {
				return fmt.Errorf("%s: err = %v, want ErrNotNew", method, x)
			}
		case ratelimit.Rate:
			if x != (ratelimit.Rate{}) {
				return fmt.Errorf("%s = %v, want the zero Rate", method, x)
			}
		case int:
			if x != 0 {
				return fmt.Errorf("%s = %d, want 0", method, x)
			}
		case time.Duration:
			if x != levee.Never {
				return fmt.Errorf("%s = %v, want Never", method, x)
			}
		case func():
			x() // OnEvent's remove
		}
		if v.Type() == reflect.TypeFor[error]() && v.IsNil() {
			return fmt.Errorf("%s: err = nil, want ErrNotNew", method)
		}
	}
	return nil
}

// TestZeroValues calls every method of the zero value of every exported
// type of the package: none may panic, the limiters refuse (with ErrNotNew
// where an error is returned) and the value types work as documented.
func TestZeroValues(t *testing.T) {
	tests := []struct {
		name  string
		value any // a pointer to the zero value, or the zero value
		check func(method string, out []reflect.Value) error
	}{
		{"GCRA", &ratelimit.GCRA{}, refuses},
		{"TokenBucket", &ratelimit.TokenBucket{}, refuses},
		{"SlidingWindow", &ratelimit.SlidingWindow{}, refuses},
		{"Keyed", &ratelimit.Keyed{}, refuses},
		{"Reservation", &ratelimit.Reservation{}, refuses},
		{"Rate", ratelimit.Rate{}, func(method string, out []reflect.Value) error {
			want := map[string]any{"Unlimited": true, "Interval": time.Duration(0), "String": "unlimited"}
			method = strings.TrimPrefix(method, "Rate.")
			if got := out[0].Interface(); got != want[method] {
				return fmt.Errorf("Rate{}.%s() = %v, want %v", method, got, want[method])
			}
			return nil
		}},
		// Configuration structs have no methods; their zero values are
		// checked by the constructors' tests.
		{"Config", ratelimit.Config{}, nil},
		{"WindowConfig", ratelimit.WindowConfig{}, nil},
		{"KeyedConfig", ratelimit.KeyedConfig{}, nil},
		{"Override", ratelimit.Override{}, nil},
		{"KeyUsage", ratelimit.KeyUsage{}, nil},
	}
	var covered []string
	for _, tt := range tests {
		covered = append(covered, tt.name)
		v := reflect.ValueOf(tt.value)
		for i := range v.NumMethod() {
			m := v.Type().Method(i)
			method := tt.name + "." + m.Name
			t.Run(method, func(t *testing.T) {
				out, err := call(v.Method(i))
				if err != nil {
					t.Fatalf("%s: %v", method, err)
				}
				if tt.check == nil {
					t.Fatalf("%s: no check for a type with methods", method)
				}
				if err := tt.check(method, out); err != nil {
					t.Error(err)
				}
			})
		}
	}
	for _, name := range exportedTypes(t) {
		if !slices.Contains(covered, name) {
			t.Errorf("exported type %s has no row in TestZeroValues", name)
		}
	}
}

// call calls m with arguments that are valid for a constructed limiter,
// turning a panic into an error.
func call(m reflect.Value) (out []reflect.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	args := make([]reflect.Value, m.Type().NumIn())
	for i := range args {
		in := m.Type().In(i)
		switch {
		case in == reflect.TypeFor[context.Context]():
			args[i] = reflect.ValueOf(ctx)
		case in.Kind() == reflect.String:
			args[i] = reflect.ValueOf("key").Convert(in)
		case in.Kind() == reflect.Int:
			args[i] = reflect.ValueOf(1).Convert(in)
		case in == reflect.TypeFor[ratelimit.Rate]():
			args[i] = reflect.ValueOf(ratelimit.PerSecond(10))
		case in == reflect.TypeFor[ratelimit.Override]():
			args[i] = reflect.ValueOf(ratelimit.Override{Rate: ratelimit.PerSecond(10)})
		case in.Kind() == reflect.Func:
			args[i] = reflect.MakeFunc(in, func([]reflect.Value) []reflect.Value {
				res := make([]reflect.Value, in.NumOut())
				for j := range res {
					res[j] = reflect.Zero(in.Out(j))
				}
				return res
			})
		default:
			args[i] = reflect.Zero(in)
		}
	}
	return m.Call(args), nil
}

// exportedTypes lists the exported types the package declares.
func exportedTypes(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), e.Name(), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, s := range g.Specs {
				if ts := s.(*ast.TypeSpec); ts.Name.IsExported() {
					names = append(names, ts.Name.Name)
				}
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("found no exported types")
	}
	return names
}
