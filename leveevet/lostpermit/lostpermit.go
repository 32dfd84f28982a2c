package lostpermit

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/ctrlflow"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/astutil"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/cfg"

	"github.com/levee-go/levee/leveevet/internal/astx"
)

// Doc is the analyzer's documentation.
const Doc = `report Levee permits that are not settled on every path

A gate (breaker, limiter, bulkhead, adaptive limit, shedder) hands out a
levee.Permit when it admits a call, and learns how the call ended only when
the permit is settled (Done, Record, or the gate's Release). A permit that
is never settled keeps a bulkhead slot or an adaptive limit's in-flight
count forever and leaves a half-open breaker waiting for a probe that never
reports: after enough such calls the gate refuses everything.

lostpermit reports a call returning a levee.Permit whose permit is
discarded (assigned to _, or the call used as a statement), and a permit
variable for which there is a path from the call to a return statement
that does not use it. Any reference to the variable counts as a use
(settling it, passing it on, storing it, returning it, a deferred call,
a function literal that mentions it), as vet's lostcancel does. Paths on
which the call's error is known to be non-nil (the branch of
"if err != nil" that follows it) are not searched: a refused call's permit
is zero and needs no settling. A permit of a gate whose type has no
Release method (a rate limiter, a fault injector) holds nothing and is not
checked, nor is code in _test.go files, where tests probe gates on
purpose.

A comment //leveevet:ignore lostpermit <reason> on the line of a report,
or the line above, waives it.`

// Analyzer reports Levee permits not settled on every path.
var Analyzer = &analysis.Analyzer{
	Name:     "lostpermit",
	Doc:      Doc,
	URL:      "https://pkg.go.dev/github.com/levee-go/levee/leveevet/lostpermit",
	Requires: []*analysis.Analyzer{inspect.Analyzer, ctrlflow.Analyzer},
	Run:      run,
}

const leveePath = "github.com/levee-go/levee"

func run(pass *analysis.Pass) (any, error) {
	astx.HonourIgnores(pass)
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	ins.Preorder([]ast.Node{(*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)}, func(n ast.Node) {
		if !astx.IsTestFile(pass, n) {
			runFunc(pass, n)
		}
	})
	return nil, nil
}

// acquisition is one call that returned a permit into a variable.
type acquisition struct {
	stmt   ast.Node   // the assignment
	permit *types.Var // the permit's variable
	err    *types.Var // the call's error variable, or nil
	call   *ast.CallExpr
}

func runFunc(pass *analysis.Pass, fn ast.Node) {
	var body *ast.BlockStmt
	var scope *types.Scope
	switch fn := fn.(type) {
	case *ast.FuncDecl:
		body, scope = fn.Body, pass.TypesInfo.Scopes[fn.Type]
	case *ast.FuncLit:
		body, scope = fn.Body, pass.TypesInfo.Scopes[fn.Type]
	}
	if body == nil {
		return
	}
	var found []acquisition
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false // its own function
		case *ast.ExprStmt:
			if call, ok := astutil.Unparen(n.X).(*ast.CallExpr); ok && permitIndex(pass.TypesInfo, call) >= 0 {
				pass.ReportRangef(call, "the levee.Permit returned by %s is discarded: settle it (Done or Record) or the gate never learns how the call ended", callName(call))
			}
		case *ast.AssignStmt:
			if a, ok := acquired(pass, n, n.Lhs, n.Rhs, scope); ok {
				found = append(found, a)
			}
		case *ast.ValueSpec:
			lhs := make([]ast.Expr, len(n.Names))
			for i, id := range n.Names {
				lhs[i] = id
			}
			if a, ok := acquired(pass, n, lhs, n.Values, scope); ok {
				found = append(found, a)
			}
		}
		return true
	})
	if len(found) == 0 {
		return
	}
	cfgs := pass.ResultOf[ctrlflow.Analyzer].(*ctrlflow.CFGs)
	var g *cfg.CFG
	var sig *types.Signature
	switch fn := fn.(type) {
	case *ast.FuncDecl:
		g = cfgs.FuncDecl(fn)
		if obj, ok := pass.TypesInfo.Defs[fn.Name].(*types.Func); ok {
			sig = obj.Signature()
		}
	case *ast.FuncLit:
		g = cfgs.FuncLit(fn)
		sig, _ = pass.TypesInfo.TypeOf(fn).(*types.Signature)
	}
	if g == nil {
		return
	}
	for _, a := range found {
		if ret := lostPath(pass, g, a, sig); ret != nil {
			line := pass.Fset.Position(a.stmt.Pos()).Line
			pass.ReportRangef(a.stmt, "the levee.Permit %s returned by %s is not settled on all paths: a gate that never learns how a call ended leaks its slot", a.permit.Name(), callName(a.call))
			pos, end := ret.Pos(), ret.End()
			if pass.Fset.File(pos) != pass.Fset.File(end) {
				end = pos // a synthetic return at the end of the body
			}
			pass.Report(analysis.Diagnostic{Pos: pos, End: end,
				Message: fmt.Sprintf("this return statement may be reached without settling the permit %s acquired on line %d", a.permit.Name(), line)})
		}
	}
}

// acquired recognises lhs = call(...) where call returns a levee.Permit:
// it reports a permit assigned to _, and returns the permit's variable
// (when it is local to the function) with the error's.
func acquired(pass *analysis.Pass, stmt ast.Node, lhs, rhs []ast.Expr, scope *types.Scope) (acquisition, bool) {
	if len(rhs) != 1 {
		return acquisition{}, false
	}
	call, ok := astutil.Unparen(rhs[0]).(*ast.CallExpr)
	if !ok {
		return acquisition{}, false
	}
	i := permitIndex(pass.TypesInfo, call)
	if i < 0 || i >= len(lhs) {
		return acquisition{}, false
	}
	id, ok := lhs[i].(*ast.Ident)
	if !ok {
		return acquisition{}, false // stored in a field or an element: used elsewhere
	}
	if id.Name == "_" {
		pass.ReportRangef(id, "the levee.Permit returned by %s is discarded: settle it (Done or Record) or the gate never learns how the call ended", callName(call))
		return acquisition{}, false
	}
	v := variable(pass.TypesInfo, id)
	if v == nil || scope == nil || !scope.Contains(v.Pos()) {
		return acquisition{}, false // declared outside: assume it is settled there
	}
	a := acquisition{stmt: stmt, permit: v, call: call}
	if res := resultsOf(pass.TypesInfo, call); res != nil {
		last := res.Len() - 1
		if last != i && last < len(lhs) && isError(res.At(last).Type()) {
			if eid, ok := lhs[last].(*ast.Ident); ok && eid.Name != "_" {
				a.err = variable(pass.TypesInfo, eid)
			}
		}
	}
	return a, true
}

func variable(info *types.Info, id *ast.Ident) *types.Var {
	if v, ok := info.Defs[id].(*types.Var); ok {
		return v
	}
	v, _ := info.Uses[id].(*types.Var)
	return v
}

func resultsOf(info *types.Info, call *ast.CallExpr) *types.Tuple {
	sig, ok := info.TypeOf(call.Fun).(*types.Signature)
	if !ok {
		return nil
	}
	return sig.Results()
}

// permitIndex returns the index of the levee.Permit among call's results,
// or -1 (also when the permit holds nothing: see [holdsNothing]).
func permitIndex(info *types.Info, call *ast.CallExpr) int {
	res := resultsOf(info, call)
	if res == nil || holdsNothing(info, call) {
		return -1
	}
	for i := range res.Len() {
		if astx.IsNamed(res.At(i).Type(), false, leveePath, "Permit") {
			return i
		}
	}
	return -1
}

// holdsNothing reports whether call is a method of a type without a
// Release method: such a gate's permits have nothing to give back.
func holdsNothing(info *types.Info, call *ast.CallExpr) bool {
	sel, ok := astutil.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok {
		return false
	}
	s := info.Selections[sel]
	if s == nil || s.Kind() != types.MethodVal {
		return false
	}
	recv := s.Recv()
	if _, isPtr := recv.Underlying().(*types.Pointer); !isPtr && !types.IsInterface(recv) {
		recv = types.NewPointer(recv)
	}
	obj, _, _ := types.LookupFieldOrMethod(recv, true, nil, "Release")
	_, isFunc := obj.(*types.Func)
	return !isFunc
}

func isError(t types.Type) bool {
	return types.Identical(t, types.Universe.Lookup("error").Type())
}

func callName(call *ast.CallExpr) string {
	switch fun := astutil.Unparen(call.Fun).(type) {
	case *ast.SelectorExpr:
		return fun.Sel.Name
	case *ast.Ident:
		return fun.Name
	}
	return "the call"
}

// lostPath finds a path through g from the acquisition to a return
// statement that does not use the permit, skipping the branches on which
// the acquisition's error is non-nil; it returns that return statement,
// or nil.
func lostPath(pass *analysis.Pass, g *cfg.CFG, a acquisition, sig *types.Signature) *ast.ReturnStmt {
	named := sig != nil && contains(sig.Results(), a.permit)
	uses := func(nodes []ast.Node) bool {
		found := false
		for _, n := range nodes {
			ast.Inspect(n, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.Ident:
					if pass.TypesInfo.Uses[n] == a.permit {
						found = true
					}
				case *ast.ReturnStmt:
					if n.Results == nil && named {
						found = true // a naked return returns the named permit
					}
				}
				return !found
			})
		}
		return found
	}
	var def *cfg.Block
	var rest []ast.Node
outer:
	for _, b := range g.Blocks {
		for i, n := range b.Nodes {
			if n == a.stmt {
				def, rest = b, b.Nodes[i+1:]
				break outer
			}
		}
	}
	if def == nil {
		return nil // unreachable code
	}
	if uses(rest) {
		return nil
	}
	if ret := def.Return(); ret != nil {
		return ret
	}
	seen := map[*cfg.Block]bool{}
	var search func([]*cfg.Block) *ast.ReturnStmt
	search = func(blocks []*cfg.Block) *ast.ReturnStmt {
		for _, b := range blocks {
			if seen[b] {
				continue
			}
			seen[b] = true
			if uses(b.Nodes) {
				continue
			}
			if ret := b.Return(); ret != nil {
				return ret
			}
			if ret := search(successors(pass.TypesInfo, b, a.err)); ret != nil {
				return ret
			}
		}
		return nil
	}
	return search(successors(pass.TypesInfo, def, a.err))
}

// successors returns b's successors, less the branch taken when err is
// non-nil when b ends by testing it (err != nil, or err == nil).
func successors(info *types.Info, b *cfg.Block, err *types.Var) []*cfg.Block {
	if err == nil || len(b.Nodes) == 0 || len(b.Succs) != 2 {
		return b.Succs
	}
	last, ok := b.Nodes[len(b.Nodes)-1].(ast.Expr)
	if !ok {
		return b.Succs
	}
	cond, ok := astutil.Unparen(last).(*ast.BinaryExpr)
	if !ok {
		return b.Succs
	}
	x, y := astutil.Unparen(cond.X), astutil.Unparen(cond.Y)
	if isNil(info, x) {
		x, y = y, x
	}
	id, ok := x.(*ast.Ident)
	if !ok || info.Uses[id] != err || !isNil(info, y) {
		return b.Succs
	}
	switch cond.Op {
	case token.NEQ: // then: err != nil
		return b.Succs[1:]
	case token.EQL: // else: err != nil
		return b.Succs[:1]
	}
	return b.Succs
}

func isNil(info *types.Info, e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	if !ok {
		return false
	}
	_, isNil := info.Uses[id].(*types.Nil)
	return isNil
}

func contains(t *types.Tuple, v *types.Var) bool {
	for x := range t.Variables() {
		if x == v {
			return true
		}
	}
	return false
}
