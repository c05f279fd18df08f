package detmath

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// guardedDirs are the packages whose data generation, initialisation,
// attacks and training must have the same bits on every machine (relative
// to this package's directory).
var guardedDirs = []string{"../../fl/dataset", "../../fl/model", "../../fl/fltest", "../../robust/attack"}

// machineDependent are math's functions whose last bit depends on the
// CPU or GOARCH (assembly, with or without FMA, or portable code the
// compiler may fuse). math.Sqrt, Abs, Floor, Frexp and the like are exact.
var machineDependent = map[string]bool{
	"Exp": true, "Exp2": true, "Expm1": true, "Log": true, "Log1p": true, "Log2": true, "Log10": true,
	"Pow": true, "Sinh": true, "Cosh": true, "Tanh": true, "Asinh": true, "Acosh": true, "Atanh": true,
	"Sin": true, "Cos": true, "Tan": true, "Sincos": true, "Asin": true, "Acos": true, "Atan": true, "Atan2": true,
	"Erf": true, "Erfc": true, "Erfinv": true, "Erfcinv": true, "Gamma": true, "Lgamma": true, "Cbrt": true, "Hypot": true,
}

// machineDependentCalls returns "file:line: call" for every call of
// (*rand.Rand).NormFloat64 or ExpFloat64 (whose ziggurats call math.Exp and
// math.Log) and of a machineDependent math function in src.
func machineDependentCalls(fset *token.FileSet, name string, src any) ([]string, error) {
	f, err := parser.ParseFile(fset, name, src, 0)
	if err != nil {
		return nil, err
	}
	mathName := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "math" {
			mathName = "math"
			if imp.Name != nil {
				mathName = imp.Name.Name
			}
		}
	}
	var found []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, isIdent := sel.X.(*ast.Ident)
		switch {
		case sel.Sel.Name == "NormFloat64" || sel.Sel.Name == "ExpFloat64":
		case isIdent && mathName != "" && id.Name == mathName && machineDependent[sel.Sel.Name]:
		default:
			return true
		}
		found = append(found, fmt.Sprintf("%s: %s", fset.Position(sel.Pos()), types(sel)))
		return true
	})
	return found, nil
}

func types(sel *ast.SelectorExpr) string {
	if id, ok := sel.X.(*ast.Ident); ok {
		return id.Name + "." + sel.Sel.Name
	}
	return "…." + sel.Sel.Name
}

// knownExceptions are machine-dependent calls not yet replaced, each with
// its reason; the test fails when one disappears, so the list stays true.
var knownExceptions = map[string]string{}

// TestNoMachineDependentCalls reads the source of the guarded packages
// (tests excluded) and fails on any call that would make their bits
// depend on the machine: someone reintroducing rng.NormFloat64 or
// math.Exp there is caught here.
func TestNoMachineDependentCalls(t *testing.T) {
	fset := token.NewFileSet()
	files := 0
	seen := map[string]bool{}
	for _, dir := range guardedDirs {
		names, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(names) == 0 {
			t.Fatalf("%s: no Go files (%v)", dir, err)
		}
		for _, name := range names {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			found, err := machineDependentCalls(fset, name, src)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range found {
				if key := filepath.Base(name) + ": " + f[strings.LastIndex(f, " ")+1:]; knownExceptions[key] != "" {
					t.Logf("known exception %s (%s)", f, knownExceptions[key])
					seen[key] = true
					continue
				}
				t.Errorf("%s: use detmath (Normal, Exp, Log, Pow) for the same bits on every machine", f)
			}
			files++
		}
	}
	if files < 10 {
		t.Fatalf("read only %d files", files)
	}
	for key := range knownExceptions {
		if !seen[key] {
			t.Errorf("known exception %q is gone: remove it from knownExceptions", key)
		}
	}
}

// TestMachineDependentCallsFinds: the scanner flags what it must, under
// another import name too, and nothing else.
func TestMachineDependentCallsFinds(t *testing.T) {
	src := `package p

import (
	m "math"
	"math/rand/v2"
)

func f(rng *rand.Rand, s struct{ rng *rand.Rand }) float64 {
	x := rng.NormFloat64() + s.rng.NormFloat64() + rng.ExpFloat64()
	// math.Exp in a comment is fine
	return m.Exp(x) + m.Log(x) + m.Pow(x, 2) + m.Sqrt(x) + m.Abs(x) + rng.Float64()
}
`
	found, err := machineDependentCalls(token.NewFileSet(), "p.go", src)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"rng.NormFloat64", "….NormFloat64", "rng.ExpFloat64", "m.Exp", "m.Log", "m.Pow"}
	if len(found) != len(want) {
		t.Fatalf("found %q, want %q", found, want)
	}
	for i, w := range want {
		if !strings.HasSuffix(found[i], ": "+w) {
			t.Errorf("finding %d = %q, want …%s", i, found[i], w)
		}
	}
}
