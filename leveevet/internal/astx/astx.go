// Package astx holds the syntax and type helpers the leveevet analyzers
// share: recognising recover calls, deferred recovers and the net/http
// handler and middleware shapes.
package astx

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/ast/astutil"
)

// IsRecover reports whether call calls the builtin recover.
func IsRecover(info *types.Info, call *ast.CallExpr) bool {
	id, ok := astutil.Unparen(call.Fun).(*ast.Ident)
	if !ok {
		return false
	}
	b, ok := info.Uses[id].(*types.Builtin)
	return ok && b.Name() == "recover"
}

// DirectRecovers returns the recover calls made directly by body: those in
// nested function literals belong to those literals and are left out.
func DirectRecovers(info *types.Info, body *ast.BlockStmt) []*ast.CallExpr {
	if body == nil {
		return nil
	}
	var out []*ast.CallExpr
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.CallExpr:
			if IsRecover(info, n) {
				out = append(out, n)
			}
		}
		return true
	})
	return out
}

// Callee returns the function or method a call calls statically, or nil
// (a builtin, a conversion, a call through a func value).
func Callee(info *types.Info, call *ast.CallExpr) *types.Func {
	var id *ast.Ident
	switch fun := astutil.Unparen(call.Fun).(type) {
	case *ast.Ident:
		id = fun
	case *ast.SelectorExpr:
		id = fun.Sel
	case *ast.IndexExpr: // generic instantiation f[T](...)
		if x, ok := fun.X.(*ast.Ident); ok {
			id = x
		} else if s, ok := fun.X.(*ast.SelectorExpr); ok {
			id = s.Sel
		}
	default:
		return nil
	}
	if id == nil {
		return nil
	}
	f, _ := info.Uses[id].(*types.Func)
	return f
}

// Decls maps the functions and methods declared in the package to their
// declarations, so an analyzer can look into the body of a same-package
// callee.
func Decls(pass *analysis.Pass) map[*types.Func]*ast.FuncDecl {
	m := map[*types.Func]*ast.FuncDecl{}
	for _, f := range pass.Files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				if fn, ok := pass.TypesInfo.Defs[fd.Name].(*types.Func); ok {
					m[fn] = fd
				}
			}
		}
	}
	return m
}

// DeferRecovers reports whether the deferred call d stops a panic of the
// goroutine that runs it: it defers a function literal, or a function of
// the package, that calls recover directly, or a function from another
// package whose name says it recovers (its body is out of sight, so its
// name is taken at its word).
func DeferRecovers(info *types.Info, decls map[*types.Func]*ast.FuncDecl, d *ast.DeferStmt) bool {
	if lit, ok := astutil.Unparen(d.Call.Fun).(*ast.FuncLit); ok {
		return len(DirectRecovers(info, lit.Body)) > 0
	}
	fn := Callee(info, d.Call)
	if fn == nil {
		return false
	}
	if fd, ok := decls[fn.Origin()]; ok {
		return len(DirectRecovers(info, fd.Body)) > 0
	}
	return strings.Contains(strings.ToLower(fn.Name()), "recover")
}

// HasDeferredRecover reports whether body, run as a goroutine's function,
// defers a recover at its top level (outside nested function literals).
func HasDeferredRecover(info *types.Info, decls map[*types.Func]*ast.FuncDecl, body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if found {
			return false
		}
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.DeferStmt:
			if DeferRecovers(info, decls, n) {
				found = true
			}
		}
		return true
	})
	return found
}

// IsNamed reports whether t is the named type pkgPath.name, through one
// pointer if ptr is set.
func IsNamed(t types.Type, ptr bool, pkgPath, name string) bool {
	if ptr {
		p, ok := types.Unalias(t).(*types.Pointer)
		if !ok {
			return false
		}
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return false
	}
	o := n.Obj()
	return o.Pkg() != nil && o.Pkg().Path() == pkgPath && o.Name() == name
}

// IsHandlerSig reports whether sig is func(http.ResponseWriter, *http.Request)
// with no results: the shape of an http.HandlerFunc and of ServeHTTP.
func IsHandlerSig(sig *types.Signature) bool {
	if sig == nil || sig.Params().Len() != 2 || sig.Results().Len() != 0 {
		return false
	}
	return IsNamed(sig.Params().At(0).Type(), false, "net/http", "ResponseWriter") &&
		IsNamed(sig.Params().At(1).Type(), true, "net/http", "Request")
}

// IsMiddlewareSig reports whether sig is func(http.Handler) http.Handler.
func IsMiddlewareSig(sig *types.Signature) bool {
	if sig == nil || sig.Params().Len() != 1 || sig.Results().Len() != 1 {
		return false
	}
	return IsNamed(sig.Params().At(0).Type(), false, "net/http", "Handler") &&
		IsNamed(sig.Results().At(0).Type(), false, "net/http", "Handler")
}

// FuncSig returns the signature of a FuncDecl or FuncLit node, or nil.
func FuncSig(info *types.Info, n ast.Node) *types.Signature {
	switch n := n.(type) {
	case *ast.FuncDecl:
		if fn, ok := info.Defs[n.Name].(*types.Func); ok {
			return fn.Signature()
		}
	case *ast.FuncLit:
		if sig, ok := info.TypeOf(n).(*types.Signature); ok {
			return sig
		}
	}
	return nil
}

// IsTestFile reports whether the file holding pos is a _test.go file.
func IsTestFile(pass *analysis.Pass, n ast.Node) bool {
	return strings.HasSuffix(pass.Fset.Position(n.Pos()).Filename, "_test.go")
}

// Trivial reports whether body only waits and signals: its only calls are
// the builtins close, len and cap, context cancel functions, a context's
// Done and Err, (*http.Request).Context, (*sync.WaitGroup).Done and
// time.Sleep. Such a goroutine (wait for a
// channel, then cancel) has nothing in it that panics, and asking it to
// recover would be noise.
func Trivial(info *types.Info, body *ast.BlockStmt) bool {
	trivial := true
	ast.Inspect(body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || !trivial {
			return trivial
		}
		if id, ok := astutil.Unparen(call.Fun).(*ast.Ident); ok {
			if b, ok := info.Uses[id].(*types.Builtin); ok {
				switch b.Name() {
				case "close", "len", "cap":
					return true
				}
			}
		}
		t := info.TypeOf(call.Fun)
		if IsNamed(t, false, "context", "CancelFunc") || IsNamed(t, false, "context", "CancelCauseFunc") {
			return true
		}
		if fn := Callee(info, call); fn != nil && fn.Pkg() != nil {
			switch fn.Pkg().Path() + "." + fn.Name() {
			case "sync.Done", "time.Sleep", "context.Done", "context.Err", "net/http.Context":
				return true
			}
		}
		trivial = false
		return false
	})
	return trivial
}

// HonourIgnores makes pass drop the diagnostics that a comment
//
//	//leveevet:ignore <analyzer> <reason>
//
// waives, on the diagnostic's line or the line above: the escape for a
// case the analyzer cannot see, such as a deadline set by middleware.
// Call it first in Run.
func HonourIgnores(pass *analysis.Pass) {
	report := pass.Report
	name := pass.Analyzer.Name
	pass.Report = func(d analysis.Diagnostic) {
		if !ignored(pass, d.Pos, name) {
			report(d)
		}
	}
}

func ignored(pass *analysis.Pass, pos token.Pos, name string) bool {
	at := pass.Fset.Position(pos)
	for _, f := range pass.Files {
		if f.FileStart > pos || pos > f.FileEnd {
			continue
		}
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				fields := strings.Fields(c.Text)
				if len(fields) < 2 || fields[0] != "//leveevet:ignore" || fields[1] != name {
					continue
				}
				if line := pass.Fset.Position(c.Slash).Line; line == at.Line || line == at.Line-1 {
					return true
				}
			}
		}
	}
	return false
}
