package clienttimeout

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/astutil"
	"golang.org/x/tools/go/ast/inspector"

	"github.com/levee-go/levee/leveevet/internal/astx"
)

// Doc is the analyzer's documentation.
const Doc = `report HTTP clients whose requests can hang forever

An http.Client with no Timeout and requests with no context deadline waits
as long as the peer likes: one slow dependency then holds goroutines,
connections and memory until the service falls over. clienttimeout reports:

  - an http.Client composite literal (http.Client{...} or &http.Client{...})
    with no Timeout field, outside _test.go files. Setting Transport does not
    make it clean: a Transport's dial, TLS and response-header timeouts do
    not bound reading the body, and only Client.Timeout or a context
    deadline bounds the whole exchange. The literal is clean when it is
    stored in a local variable c of the function and either the function
    assigns c.Timeout, or every use of c is c.Do(req) where req comes from
    http.NewRequestWithContext(ctx, ...) (or req.WithContext(ctx)) and ctx
    from context.WithTimeout or context.WithDeadline in the same function.
    Deadlines that arrive through a parameter are out of sight and do not
    count;
  - a use of http.DefaultClient, and calls to http.Get, http.Head,
    http.Post and http.PostForm (which use it), outside package main and
    _test.go files: a library cannot know its caller's deadline budget and
    must not share the process-wide client that has none.

Unkeyed http.Client literals, new(http.Client) and var c http.Client are
not reported. No fix is suggested: the right timeout is a decision about
the dependency, not a rewrite.

A comment //leveevet:ignore clienttimeout <reason> on the line of a report, or
the line above, waives it.`

// Analyzer reports HTTP clients whose requests can hang forever.
var Analyzer = &analysis.Analyzer{
	Name:     "clienttimeout",
	Doc:      Doc,
	URL:      "https://pkg.go.dev/github.com/levee-go/levee/leveevet/clienttimeout",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

func run(pass *analysis.Pass) (any, error) {
	astx.HonourIgnores(pass)
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	isMain := pass.Pkg.Name() == "main"
	all := collectUses(pass, ins)
	decls := astx.Decls(pass)
	ins.WithStack([]ast.Node{(*ast.CompositeLit)(nil), (*ast.SelectorExpr)(nil)},
		func(n ast.Node, push bool, stack []ast.Node) bool {
			if !push || astx.IsTestFile(pass, n) {
				return true
			}
			switch n := n.(type) {
			case *ast.CompositeLit:
				if astx.IsNamed(pass.TypesInfo.TypeOf(n), false, "net/http", "Client") && !hasTimeout(n) &&
					!deadlineBound(pass, all, decls, n, stack) {
					pass.Reportf(n.Pos(), "http.Client without Timeout: its requests can hang forever; set Timeout or give every request a context deadline")
				}
			case *ast.SelectorExpr:
				if isMain {
					return true
				}
				switch obj := pass.TypesInfo.Uses[n.Sel]; {
				case obj == nil || obj.Pkg() == nil || obj.Pkg().Path() != "net/http" || obj.Parent() != obj.Pkg().Scope():
				case obj.Name() == "DefaultClient":
					pass.Reportf(n.Pos(), "http.DefaultClient has no timeout: outside package main, take an *http.Client with a Timeout from the caller")
				case obj.Name() == "Get" || obj.Name() == "Head" || obj.Name() == "Post" || obj.Name() == "PostForm":
					if _, isFunc := obj.(*types.Func); isFunc {
						pass.Reportf(n.Pos(), "http.%s uses http.DefaultClient, which has no timeout: outside package main, use an *http.Client with a Timeout and a request context", obj.Name())
					}
				}
			}
			return true
		})
	return nil, nil
}

func hasTimeout(lit *ast.CompositeLit) bool {
	if len(lit.Elts) > 0 {
		if _, keyed := lit.Elts[0].(*ast.KeyValueExpr); !keyed {
			return true // unkeyed: every field is given
		}
	}
	for _, e := range lit.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok && id.Name == "Timeout" {
				return true
			}
		}
	}
	return false
}

// use is one appearance of a variable: the expression that yields its
// value (the identifier, or x.f for a field), the nodes above it, and the
// body of the function it appears in.
type use struct {
	expr  ast.Expr
	stack []ast.Node
	body  *ast.BlockStmt
}

// uses maps the package's variables to their appearances.
type uses map[*types.Var][]use

func collectUses(pass *analysis.Pass, ins *inspector.Inspector) uses {
	m := uses{}
	ins.WithStack([]ast.Node{(*ast.Ident)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if !push {
			return true
		}
		v, ok := pass.TypesInfo.Uses[n.(*ast.Ident)].(*types.Var)
		if !ok {
			return true
		}
		// The inspector reuses its stack: keep a copy of the nodes just above.
		u := use{expr: n.(*ast.Ident), stack: append([]ast.Node(nil), stack[max(0, len(stack)-4):len(stack)-1]...)}
		if sel, ok := u.parent().(*ast.SelectorExpr); ok && sel.Sel == n {
			u.expr, u.stack = sel, u.stack[:len(u.stack)-1]
		}
		for i := len(stack) - 1; i >= 0 && u.body == nil; i-- {
			switch f := stack[i].(type) {
			case *ast.FuncDecl:
				u.body = f.Body
			case *ast.FuncLit:
				u.body = f.Body
			}
		}
		m[v] = append(m[v], u)
		return true
	})
	return m
}

func (u use) parent() ast.Node {
	if len(u.stack) == 0 {
		return nil
	}
	return u.stack[len(u.stack)-1]
}

func (u use) grandparent() ast.Node {
	if len(u.stack) < 2 {
		return nil
	}
	return u.stack[len(u.stack)-2]
}

// deadlineBound reports whether the literal is stored in a variable (a
// local, an unexported package variable or an unexported field) whose every
// use in the package is c.Do(req) with a deadline-bound req, or a pass to a
// parameter of a function of the package with the same property, or the
// assignment of c.Timeout.
func deadlineBound(pass *analysis.Pass, all uses, decls map[*types.Func]*ast.FuncDecl, lit *ast.CompositeLit, stack []ast.Node) bool {
	c := storedIn(pass.TypesInfo, lit, stack)
	return c != nil && clean(pass.TypesInfo, all, decls, c, 0)
}

func clean(info *types.Info, all uses, decls map[*types.Func]*ast.FuncDecl, c *types.Var, depth int) bool {
	if depth > 3 {
		return false
	}
	used, ok := false, true
	for _, u := range all[c] {
		switch p := u.parent().(type) {
		case *ast.KeyValueExpr:
			if p.Key == u.expr {
				continue // the field's initialisation
			}
		case *ast.AssignStmt:
			if isLHS(p, u.expr) {
				continue // an assignment to it
			}
		case *ast.SelectorExpr:
			if p.Sel.Name == "Timeout" {
				if as, ok := u.grandparent().(*ast.AssignStmt); ok && isLHS(as, p) {
					return true
				}
			}
			if call, ok := u.grandparent().(*ast.CallExpr); ok && p.Sel.Name == "Do" && call.Fun == p && len(call.Args) == 1 && u.body != nil {
				f := &fnScope{info: info, body: u.body}
				if f.requestBound(call.Args[0], 0) {
					used = true
					continue
				}
			}
		case *ast.CallExpr:
			if v := paramFor(info, decls, p, u.expr); v != nil && clean(info, all, decls, v, depth+1) {
				used = true
				continue
			}
		}
		ok = false
	}
	return used && ok
}

func isLHS(as *ast.AssignStmt, e ast.Expr) bool {
	for _, l := range as.Lhs {
		if l == e {
			return true
		}
	}
	return false
}

// paramFor returns the parameter of a package function that receives arg
// in call, or nil.
func paramFor(info *types.Info, decls map[*types.Func]*ast.FuncDecl, call *ast.CallExpr, arg ast.Expr) *types.Var {
	fn := astx.Callee(info, call)
	if fn == nil {
		return nil
	}
	fd, ok := decls[fn.Origin()]
	if !ok || fd.Body == nil {
		return nil
	}
	sig := fn.Signature()
	for i, a := range call.Args {
		if a != arg || sig.Variadic() && i >= sig.Params().Len()-1 {
			continue
		}
		p := sig.Params().At(i)
		// Map the instantiated parameter back to the declaration's object.
		j := 0
		for _, field := range fd.Type.Params.List {
			for _, name := range field.Names {
				if j == i {
					if v, ok := info.Defs[name].(*types.Var); ok {
						return v
					}
				}
				j++
			}
		}
		_ = p
	}
	return nil
}

// storedIn returns the variable the literal (or its address) is stored in:
// a local, or an unexported package variable or struct field, whose uses
// are all in sight; or nil.
func storedIn(info *types.Info, lit *ast.CompositeLit, stack []ast.Node) *types.Var {
	var e ast.Expr = lit
	i := len(stack) - 2
	for ; i >= 0; i-- {
		if u, ok := stack[i].(*ast.UnaryExpr); ok && u.Op == token.AND {
			e = u
			continue
		}
		if p, ok := stack[i].(*ast.ParenExpr); ok {
			e = p
			continue
		}
		break
	}
	if i < 0 {
		return nil
	}
	var lhs ast.Expr
	switch p := stack[i].(type) {
	case *ast.AssignStmt:
		for j, r := range p.Rhs {
			if r == e && len(p.Lhs) == len(p.Rhs) {
				lhs = p.Lhs[j]
			}
		}
	case *ast.ValueSpec:
		for j, r := range p.Values {
			if r == e && len(p.Names) == len(p.Values) {
				lhs = p.Names[j]
			}
		}
	case *ast.KeyValueExpr:
		if p.Value == e {
			lhs = p.Key
		}
	}
	var id *ast.Ident
	switch l := lhs.(type) {
	case *ast.Ident:
		id = l
	case *ast.SelectorExpr:
		id = l.Sel
	default:
		return nil
	}
	v, ok := info.ObjectOf(id).(*types.Var)
	if !ok || v.Exported() && (v.IsField() || v.Parent() == v.Pkg().Scope()) {
		return nil // others may use it out of sight
	}
	return v
}

type fnScope struct {
	info *types.Info
	body *ast.BlockStmt
}

// requestBound reports whether the request expression e carries a context
// made with a deadline in this function.
func (f *fnScope) requestBound(e ast.Expr, depth int) bool {
	if depth > 4 {
		return false
	}
	switch e := astutil.Unparen(e).(type) {
	case *ast.Ident:
		vals := f.assignedValues(e)
		for _, v := range vals {
			if !f.requestBound(v, depth+1) {
				return false
			}
		}
		return len(vals) > 0
	case *ast.CallExpr:
		fn := astx.Callee(f.info, e)
		if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != "net/http" || len(e.Args) == 0 {
			return false
		}
		switch fn.Name() {
		case "NewRequestWithContext":
			return f.contextBound(e.Args[0], depth+1)
		case "WithContext":
			return f.contextBound(e.Args[0], depth+1)
		}
	}
	return false
}

// contextBound reports whether e is a context made by context.WithTimeout
// or context.WithDeadline (or their Cause forms) in this function.
func (f *fnScope) contextBound(e ast.Expr, depth int) bool {
	if depth > 4 {
		return false
	}
	switch e := astutil.Unparen(e).(type) {
	case *ast.Ident:
		vals := f.assignedValues(e)
		for _, v := range vals {
			if !f.contextBound(v, depth+1) {
				return false
			}
		}
		return len(vals) > 0
	case *ast.CallExpr:
		fn := astx.Callee(f.info, e)
		if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != "context" {
			return false
		}
		switch fn.Name() {
		case "WithTimeout", "WithDeadline", "WithTimeoutCause", "WithDeadlineCause":
			return true
		}
	}
	return false
}

// assignedValues returns every value assigned in the function to the local
// variable id names, with a multi-value call standing for its first result;
// nil when an assignment cannot be read that way or the variable is not
// local to the function.
func (f *fnScope) assignedValues(id *ast.Ident) []ast.Expr {
	v, ok := f.info.ObjectOf(id).(*types.Var)
	if !ok {
		return nil
	}
	if v.Pos() < f.body.Pos() || v.Pos() > f.body.End() {
		// A parameter, or a variable of an enclosing function: its first
		// value is out of sight, so only a statement at the top of the
		// body that overwrites it (ctx, cancel := context.WithTimeout(ctx, d)
		// reusing a parameter) makes it readable.
		if !f.overwritten(v) {
			return nil
		}
	}
	var vals []ast.Expr
	bad := false
	pick := func(lhs []ast.Expr, rhs []ast.Expr) {
		for j, l := range lhs {
			lid, ok := astutil.Unparen(l).(*ast.Ident)
			if !ok || f.info.ObjectOf(lid) != v {
				continue
			}
			switch {
			case len(lhs) == len(rhs):
				vals = append(vals, rhs[j])
			case len(rhs) == 1 && j == 0:
				vals = append(vals, rhs[0])
			default:
				bad = true
			}
		}
	}
	ast.Inspect(f.body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			pick(n.Lhs, n.Rhs)
		case *ast.ValueSpec:
			lhs := make([]ast.Expr, len(n.Names))
			for i, nm := range n.Names {
				lhs[i] = nm
			}
			if len(n.Values) == 0 {
				for _, nm := range n.Names {
					if f.info.ObjectOf(nm) == v {
						bad = true
					}
				}
			}
			pick(lhs, n.Values)
		case *ast.UnaryExpr:
			if x, ok := n.X.(*ast.Ident); ok && n.Op == token.AND && f.info.ObjectOf(x) == v {
				bad = true // its address escapes: anything may be stored
			}
		}
		return true
	})
	if bad {
		return nil
	}
	return vals
}

// overwritten reports whether a statement at the top level of the body
// assigns v, so that every later use sees that value.
func (f *fnScope) overwritten(v *types.Var) bool {
	for _, st := range f.body.List {
		as, ok := st.(*ast.AssignStmt)
		if !ok {
			continue
		}
		for _, l := range as.Lhs {
			if id, ok := l.(*ast.Ident); ok && f.info.ObjectOf(id) == v {
				return true
			}
		}
	}
	return false
}
