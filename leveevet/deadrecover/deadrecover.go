package deadrecover

import (
	"bytes"
	"go/ast"
	"go/format"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/astutil"
	"golang.org/x/tools/go/ast/inspector"

	"github.com/levee-go/levee/leveevet/internal/astx"
)

// Doc is the analyzer's documentation.
const Doc = `report recover calls that can never stop a panic

recover stops a panic only when a deferred function calls it directly, in
the goroutine that panics. deadrecover reports:

  - defer recover(): the runtime, not a deferred function, calls recover,
    which returns nil (suggested fix: defer func() { recover() }());
  - recover in a function literal that is called or started with go
    rather than deferred: func() { recover() }(), go func() { recover() }();
  - a call, other than a deferred one, to a function of the package that
    calls recover directly, such as defer func() { handlePanic() }(): the
    recover in handlePanic runs one call too deep and returns nil
    (suggested fix when the closure only makes that call without
    arguments: defer handlePanic());
  - a go statement in a function that defers a recover, when the new
    goroutine is a function literal written there that defers no recover
    of its own: the parent's recover, which the literal seems to rely on,
    cannot see the goroutine's panic, which crashes the process.

A function literal that calls recover but is stored or passed rather than
called is not reported: where it ends up being called is out of sight.
Nor is a go statement that starts a named function (go s.readLoop()),
which reads as a separate task rather than code under the parent's
recover, or a literal that only waits and signals (its only calls are
close, len, cap, context cancel functions, a context's Done and Err,
Request.Context, WaitGroup.Done and time.Sleep).

A comment //leveevet:ignore deadrecover <reason> on the line of a report, or
the line above, waives it.`

// Analyzer reports recover calls that can never stop a panic.
var Analyzer = &analysis.Analyzer{
	Name:     "deadrecover",
	Doc:      Doc,
	URL:      "https://pkg.go.dev/github.com/levee-go/levee/leveevet/deadrecover",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

func run(pass *analysis.Pass) (any, error) {
	astx.HonourIgnores(pass)
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	decls := astx.Decls(pass)
	recovering := map[*types.Func]bool{}
	for fn, fd := range decls {
		if len(astx.DirectRecovers(pass.TypesInfo, fd.Body)) > 0 {
			recovering[fn] = true
		}
	}
	ins.WithStack([]ast.Node{(*ast.CallExpr)(nil), (*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)},
		func(n ast.Node, push bool, stack []ast.Node) bool {
			if !push {
				return true
			}
			switch n := n.(type) {
			case *ast.CallExpr:
				if astx.IsRecover(pass.TypesInfo, n) {
					checkRecover(pass, n, stack)
				} else if fn := astx.Callee(pass.TypesInfo, n); fn != nil && recovering[fn.Origin()] {
					checkHelperCall(pass, fn, n, stack)
				}
			case *ast.FuncDecl:
				checkGoroutines(pass, decls, n.Name.Name, n.Body)
			case *ast.FuncLit:
				checkGoroutines(pass, decls, "this function", n.Body)
			}
			return true
		})
	return nil, nil
}

// parent returns the nearest node above stack's top that is not a
// parenthesis.
func parent(stack []ast.Node, depth int) ast.Node {
	i := len(stack) - 1 - depth
	for i >= 0 {
		if _, ok := stack[i].(*ast.ParenExpr); !ok {
			return stack[i]
		}
		i--
	}
	return nil
}

func checkRecover(pass *analysis.Pass, call *ast.CallExpr, stack []ast.Node) {
	if d, ok := parent(stack, 1).(*ast.DeferStmt); ok && d.Call == call {
		pass.Report(analysis.Diagnostic{
			Pos: call.Pos(), End: call.End(),
			Message: "defer recover() stops no panic: recover must be called by a deferred function, not deferred itself",
			SuggestedFixes: []analysis.SuggestedFix{{
				Message:   "Call recover from a deferred function literal",
				TextEdits: []analysis.TextEdit{{Pos: call.Pos(), End: call.End(), NewText: []byte("func() { recover() }()")}},
			}},
		})
		return
	}
	// The innermost enclosing function.
	for i := len(stack) - 2; i >= 0; i-- {
		switch f := stack[i].(type) {
		case *ast.FuncDecl:
			return // judged at its call sites
		case *ast.FuncLit:
			c, ok := parent(stack[:i+1], 1).(*ast.CallExpr)
			if !ok || astutil.Unparen(c.Fun) != f {
				return // stored or passed: where it runs is out of sight
			}
			switch parent(stack[:i+1], 2).(type) {
			case *ast.DeferStmt:
				return // the one place recover works
			case *ast.GoStmt:
				pass.Reportf(call.Pos(), "recover in a goroutine's own function, not in a deferred one, returns nil and stops no panic: defer it inside the goroutine")
			default:
				pass.Reportf(call.Pos(), "recover in a function literal that is called, not deferred, returns nil and stops no panic")
			}
			return
		}
	}
}

func checkHelperCall(pass *analysis.Pass, fn *types.Func, call *ast.CallExpr, stack []ast.Node) {
	if d, ok := parent(stack, 1).(*ast.DeferStmt); ok && d.Call == call {
		return // defer helper(): helper's recover works
	}
	d := analysis.Diagnostic{
		Pos: call.Pos(), End: call.End(),
		Message: fn.Name() + " calls recover, but here it is called, not deferred: its recover returns nil and stops no panic; defer " + fn.Name() + " itself",
	}
	if fix, ok := deferDirectly(pass, call, stack); ok {
		d.SuggestedFixes = []analysis.SuggestedFix{fix}
	}
	pass.Report(d)
}

// deferDirectly offers to turn defer func() { helper() }() into
// defer helper() when the closure does nothing else and the call takes no
// arguments, so nothing is evaluated earlier than before.
func deferDirectly(pass *analysis.Pass, call *ast.CallExpr, stack []ast.Node) (analysis.SuggestedFix, bool) {
	if len(call.Args) != 0 {
		return analysis.SuggestedFix{}, false
	}
	switch fun := astutil.Unparen(call.Fun).(type) {
	case *ast.Ident:
	case *ast.SelectorExpr:
		x, ok := fun.X.(*ast.Ident)
		if !ok {
			return analysis.SuggestedFix{}, false
		}
		if _, isPkg := pass.TypesInfo.Uses[x].(*types.PkgName); !isPkg {
			return analysis.SuggestedFix{}, false
		}
	default:
		return analysis.SuggestedFix{}, false
	}
	// stack: ... DeferStmt, CallExpr(lit), FuncLit, BlockStmt, ExprStmt, call
	if len(stack) < 6 {
		return analysis.SuggestedFix{}, false
	}
	es, ok1 := stack[len(stack)-2].(*ast.ExprStmt)
	body, ok2 := stack[len(stack)-3].(*ast.BlockStmt)
	lit, ok3 := stack[len(stack)-4].(*ast.FuncLit)
	litCall, ok4 := stack[len(stack)-5].(*ast.CallExpr)
	def, ok5 := stack[len(stack)-6].(*ast.DeferStmt)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || es.X != call || len(body.List) != 1 ||
		litCall.Fun != lit || len(litCall.Args) != 0 || def.Call != litCall {
		return analysis.SuggestedFix{}, false
	}
	var buf bytes.Buffer
	if err := format.Node(&buf, pass.Fset, call); err != nil {
		return analysis.SuggestedFix{}, false
	}
	return analysis.SuggestedFix{
		Message:   "Defer the recovering function directly",
		TextEdits: []analysis.TextEdit{{Pos: litCall.Pos(), End: litCall.End(), NewText: buf.Bytes()}},
	}, true
}

// checkGoroutines reports the go statements of body that its deferred
// recover seems meant to cover but cannot.
func checkGoroutines(pass *analysis.Pass, decls map[*types.Func]*ast.FuncDecl, name string, body *ast.BlockStmt) {
	if body == nil || !astx.HasDeferredRecover(pass.TypesInfo, decls, body) {
		return
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.GoStmt:
			lit, ok := astutil.Unparen(n.Call.Fun).(*ast.FuncLit)
			if ok && !astx.Trivial(pass.TypesInfo, lit.Body) && !astx.HasDeferredRecover(pass.TypesInfo, decls, lit.Body) {
				pass.Reportf(n.Pos(), "the deferred recover in %s does not cover this goroutine: a panic in it crashes the process; defer a recover inside the goroutine or start it with levee.Go", name)
			}
		}
		return true
	})
}
