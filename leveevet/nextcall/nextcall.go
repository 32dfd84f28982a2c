package nextcall

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/astutil"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/cfg"

	"github.com/levee-go/levee/leveevet/internal/astx"
)

// Doc is the analyzer's documentation.
const Doc = `report middleware paths that neither call the next handler nor respond

In a middleware of type func(http.Handler) http.Handler (a function, a
method or a function literal), nextcall looks at each handler function
literal, func(w http.ResponseWriter, r *http.Request), that the middleware
returns or that refers to the next handler. A path through that handler
that reaches a return without

  - calling a ServeHTTP method (next.ServeHTTP, or any other handler's),
  - calling a method of w other than Header (w.WriteHeader, w.Write, ...),
  - or passing w, or an expression built from w, to any call
    (http.Error, http.Redirect, fmt.Fprintf, a helper that takes w, ...)

is reported: the client gets an empty 200 OK and the request goes nowhere.
A deferred call counts on every path after the defer statement, so
defer next.ServeHTTP(w, r) and defer func() { next.ServeHTTP(w, r) }() are
clean. Paths that end in panic, os.Exit, log.Fatal or runtime.Goexit do not
return and are not reported. The check is lenient where it cannot see: a
call that receives w is taken to respond, which keeps false positives out
at the price of missing a helper that only reads w.

A comment //leveevet:ignore nextcall <reason> on the line of a report, or
the line above, waives it.`

// Analyzer reports middleware paths that neither call next nor respond.
var Analyzer = &analysis.Analyzer{
	Name:     "nextcall",
	Doc:      Doc,
	URL:      "https://pkg.go.dev/github.com/levee-go/levee/leveevet/nextcall",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

func run(pass *analysis.Pass) (any, error) {
	astx.HonourIgnores(pass)
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	ins.Preorder([]ast.Node{(*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)}, func(n ast.Node) {
		sig := astx.FuncSig(pass.TypesInfo, n)
		if !astx.IsMiddlewareSig(sig) {
			return
		}
		var body *ast.BlockStmt
		switch n := n.(type) {
		case *ast.FuncDecl:
			body = n.Body
		case *ast.FuncLit:
			body = n.Body
		}
		if body == nil {
			return
		}
		next := sig.Params().At(0)
		returned := returnedHandlers(body)
		ast.Inspect(body, func(m ast.Node) bool {
			lit, ok := m.(*ast.FuncLit)
			if !ok {
				return true
			}
			if s, _ := pass.TypesInfo.TypeOf(lit).(*types.Signature); astx.IsHandlerSig(s) &&
				(returned[lit] || refersTo(pass.TypesInfo, lit, next)) {
				checkHandler(pass, lit)
			}
			return true
		})
	})
	return nil, nil
}

// returnedHandlers finds the function literals body returns, bare or
// converted (return http.HandlerFunc(func(w, r) {...})).
func returnedHandlers(body *ast.BlockStmt) map[*ast.FuncLit]bool {
	out := map[*ast.FuncLit]bool{}
	ast.Inspect(body, func(n ast.Node) bool {
		if _, ok := n.(*ast.FuncLit); ok {
			return false
		}
		ret, ok := n.(*ast.ReturnStmt)
		if !ok || len(ret.Results) != 1 {
			return true
		}
		e := astutil.Unparen(ret.Results[0])
		if c, ok := e.(*ast.CallExpr); ok && len(c.Args) == 1 {
			e = astutil.Unparen(c.Args[0])
		}
		if lit, ok := e.(*ast.FuncLit); ok {
			out[lit] = true
		}
		return true
	})
	return out
}

func refersTo(info *types.Info, n ast.Node, obj types.Object) bool {
	found := false
	ast.Inspect(n, func(m ast.Node) bool {
		if id, ok := m.(*ast.Ident); ok && info.Uses[id] == obj {
			found = true
		}
		return !found
	})
	return found
}

func checkHandler(pass *analysis.Pass, lit *ast.FuncLit) {
	var w types.Object
	if names := lit.Type.Params.List[0].Names; len(names) > 0 {
		w = pass.TypesInfo.Defs[names[0]]
	}
	g := cfg.New(lit.Body, func(call *ast.CallExpr) bool { return mayReturn(pass.TypesInfo, call) })
	seen := map[*cfg.Block]bool{}
	var search func(b *cfg.Block)
	search = func(b *cfg.Block) {
		if seen[b] {
			return
		}
		seen[b] = true
		for _, n := range b.Nodes {
			if responds(pass.TypesInfo, n, w) {
				return
			}
		}
		if ret := b.Return(); ret != nil {
			// An implicit return sits on the closing brace.
			pass.Reportf(ret.Pos(), "this path returns without calling next.ServeHTTP or writing a response: the client gets an empty 200 OK")
			return
		}
		for _, s := range b.Succs {
			search(s)
		}
	}
	search(g.Blocks[0])
}

// responds reports whether n calls a handler, calls a method of w other
// than Header, or hands w to a call.
func responds(info *types.Info, n ast.Node, w types.Object) bool {
	found := false
	ast.Inspect(n, func(m ast.Node) bool {
		if found {
			return false
		}
		call, ok := m.(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := astutil.Unparen(call.Fun).(*ast.SelectorExpr); ok {
			if sel.Sel.Name == "ServeHTTP" {
				found = true
				return false
			}
			if id, ok := astutil.Unparen(sel.X).(*ast.Ident); ok && w != nil && info.Uses[id] == w && sel.Sel.Name != "Header" {
				found = true
				return false
			}
		}
		for _, a := range call.Args {
			if w != nil && refersTo(info, a, w) {
				found = true
				return false
			}
		}
		return true
	})
	return found
}

// mayReturn reports whether call may return: panic, os.Exit, log.Fatal*,
// log.Panic* and runtime.Goexit never do.
func mayReturn(info *types.Info, call *ast.CallExpr) bool {
	if id, ok := astutil.Unparen(call.Fun).(*ast.Ident); ok {
		if b, ok := info.Uses[id].(*types.Builtin); ok && b.Name() == "panic" {
			return false
		}
	}
	fn := astx.Callee(info, call)
	if fn == nil || fn.Pkg() == nil {
		return true
	}
	switch fn.Pkg().Path() + "." + fn.Name() {
	case "os.Exit", "runtime.Goexit",
		"log.Fatal", "log.Fatalf", "log.Fatalln", "log.Panic", "log.Panicf", "log.Panicln":
		return false
	}
	return true
}
