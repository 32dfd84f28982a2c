package perrequest

import (
	"go/ast"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/astutil"
	"golang.org/x/tools/go/ast/inspector"

	"github.com/levee-go/levee/leveevet/internal/astx"
)

// Doc is the analyzer's documentation.
const Doc = `report Levee policies built inside a request handler

A breaker, a limiter, a bulkhead or a pipeline protects by what it
remembers across calls: failures in its window, tokens spent, calls in
flight. Built inside a handler, it is new on every request and remembers
nothing: the breaker never trips, the limiter never limits, the bulkhead
never fills, and each request pays for the construction.

perrequest reports a call to a policy constructor of Levee (a New…
function of breaker, ratelimit, concurrency, shed, retry, hedge,
timelimit, fallback, chaos, slo or redislimit that returns a policy, and
levee.New and levee.NewPipeline) made directly in the body of a request
handler: a func(http.ResponseWriter, *http.Request) (ServeHTTP,
HandlerFunc literals), a gin handler func(*gin.Context) or an echo handler
func(echo.Context) error. Build policies once, beside the handler, and
share them; for a policy per tenant or per host, use a keyed gate
(ratelimit.Keyed, concurrency.Keyed) or leveehttp.PerHost. A constructor
called from a function literal inside the handler (a factory handed to a
cache) or whose result is stored into a map element is not reported.

A comment //leveevet:ignore perrequest <reason> on the line of a report,
or the line above, waives it.`

// Analyzer reports Levee policies built inside request handlers.
var Analyzer = &analysis.Analyzer{
	Name:     "perrequest",
	Doc:      Doc,
	URL:      "https://pkg.go.dev/github.com/levee-go/levee/leveevet/perrequest",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

const leveePath = "github.com/levee-go/levee"

// policyPackages are the packages whose New… functions build policies.
var policyPackages = map[string]bool{
	leveePath + "/breaker": true, leveePath + "/ratelimit": true, leveePath + "/concurrency": true,
	leveePath + "/shed": true, leveePath + "/retry": true, leveePath + "/hedge": true,
	leveePath + "/timelimit": true, leveePath + "/fallback": true, leveePath + "/chaos": true,
	leveePath + "/slo": true, leveePath + "/redislimit": true,
}

func run(pass *analysis.Pass) (any, error) {
	astx.HonourIgnores(pass)
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	ins.WithStack([]ast.Node{(*ast.CallExpr)(nil)}, func(n ast.Node, push bool, stack []ast.Node) bool {
		if !push {
			return true
		}
		call := n.(*ast.CallExpr)
		fn := astx.Callee(pass.TypesInfo, call)
		if fn == nil || !isConstructor(fn) || !inHandler(pass, stack) || storedInMap(stack) {
			return true
		}
		pass.ReportRangef(call, "%s.%s builds a policy for every request, which remembers nothing between requests and protects nothing: build it once, outside the handler, and share it", fn.Pkg().Name(), fn.Name())
		return true
	})
	return nil, nil
}

// isConstructor reports whether fn builds a Levee policy.
func isConstructor(fn *types.Func) bool {
	if fn.Pkg() == nil || fn.Signature().Recv() != nil || !strings.HasPrefix(fn.Name(), "New") {
		return false
	}
	path := fn.Pkg().Path()
	if path == leveePath {
		return fn.Name() == "New" || fn.Name() == "NewPipeline"
	}
	if !policyPackages[path] {
		return false
	}
	res := fn.Signature().Results()
	if res.Len() == 0 {
		return false
	}
	obj, _, _ := types.LookupFieldOrMethod(res.At(0).Type(), true, nil, "Stage")
	_, ok := obj.(*types.Func)
	return ok // every policy has a stage in a pipeline
}

// inHandler reports whether the innermost function around the top of
// stack is a request handler.
func inHandler(pass *analysis.Pass, stack []ast.Node) bool {
	for i := len(stack) - 2; i >= 0; i-- {
		switch stack[i].(type) {
		case *ast.FuncDecl, *ast.FuncLit:
			return isHandler(astx.FuncSig(pass.TypesInfo, stack[i]))
		}
	}
	return false
}

func isHandler(sig *types.Signature) bool {
	if astx.IsHandlerSig(sig) {
		return true
	}
	if sig == nil || sig.Params().Len() != 1 {
		return false
	}
	p := sig.Params().At(0).Type()
	return astx.IsNamed(p, true, "github.com/gin-gonic/gin", "Context") ||
		(sig.Results().Len() == 1 && (astx.IsNamed(p, false, "github.com/labstack/echo/v4", "Context") ||
			astx.IsNamed(p, false, "github.com/labstack/echo/v5", "Context")))
}

// storedInMap reports whether the call's result goes straight into a map
// element (m[key] = breaker.New(…)): a policy per key, kept.
func storedInMap(stack []ast.Node) bool {
	if len(stack) < 2 {
		return false
	}
	as, ok := stack[len(stack)-2].(*ast.AssignStmt)
	if !ok {
		return false
	}
	for _, l := range as.Lhs {
		if _, ok := astutil.Unparen(l).(*ast.IndexExpr); ok {
			return true
		}
	}
	return false
}
