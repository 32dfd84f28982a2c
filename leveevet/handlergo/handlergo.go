package handlergo

import (
	"go/ast"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/astutil"
	"golang.org/x/tools/go/ast/inspector"

	"github.com/levee-go/levee/leveevet/internal/astx"
)

// Doc is the analyzer's documentation.
const Doc = `report unprotected goroutines started by HTTP handlers

net/http recovers a panic in a handler's own goroutine and logs it, so one
bad request costs one response. A panic in a goroutine the handler starts
is recovered by nothing: it kills the whole process and every request in
flight. handlergo reports a go statement inside an HTTP handler, a function
or method of type func(http.ResponseWriter, *http.Request) (ServeHTTP,
HandlerFunc literals, closures nested in them), when the goroutine's
function is a function literal, or a function of the package, whose body
does not defer a recover at its top level. A deferred call counts as a
recover when it defers a function literal or a package function that calls
recover directly, or a function of another package whose name contains
"recover". Goroutines that only wait and signal (their only calls are
close, len, cap, context cancel functions, a context's Done and Err,
Request.Context, WaitGroup.Done and time.Sleep)
and go statements in _test.go files are not reported.

Start such work with levee.Go(fn, onPanic) or leveehttp.Go(r, opts, fn),
which recover and report the panic, or defer a recover inside the
goroutine. A go statement whose function comes from another package is
not reported: its body is out of sight. No fix is suggested: what to do
with the panic is the caller's decision.

A comment //leveevet:ignore handlergo <reason> on the line of a report, or
the line above, waives it.`

// Analyzer reports unprotected goroutines started by HTTP handlers.
var Analyzer = &analysis.Analyzer{
	Name:     "handlergo",
	Doc:      Doc,
	URL:      "https://pkg.go.dev/github.com/levee-go/levee/leveevet/handlergo",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

func run(pass *analysis.Pass) (any, error) {
	astx.HonourIgnores(pass)
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	decls := astx.Decls(pass)
	ins.WithStack([]ast.Node{(*ast.GoStmt)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if !push || astx.IsTestFile(pass, n) || !inHandler(pass, stack) {
			return true
		}
		g := n.(*ast.GoStmt)
		var body *ast.BlockStmt
		if lit, ok := astutil.Unparen(g.Call.Fun).(*ast.FuncLit); ok {
			body = lit.Body
		} else if fn := astx.Callee(pass.TypesInfo, g.Call); fn != nil {
			if fd, ok := decls[fn.Origin()]; ok {
				body = fd.Body
			}
		}
		if body != nil && !astx.Trivial(pass.TypesInfo, body) && !astx.HasDeferredRecover(pass.TypesInfo, decls, body) {
			pass.Reportf(g.Pos(), "goroutine started by an HTTP handler has no deferred recover: a panic in it crashes the process; start it with levee.Go or leveehttp.Go, or defer a recover in it")
		}
		return true
	})
	return nil, nil
}

// inHandler reports whether a function enclosing the top of stack has the
// handler signature.
func inHandler(pass *analysis.Pass, stack []ast.Node) bool {
	for i := len(stack) - 2; i >= 0; i-- {
		switch stack[i].(type) {
		case *ast.FuncDecl, *ast.FuncLit:
			if astx.IsHandlerSig(astx.FuncSig(pass.TypesInfo, stack[i])) {
				return true
			}
		}
	}
	return false
}
