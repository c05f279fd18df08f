package detmath

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fusedOp matches the fused multiply-add instructions of arm64 and amd64.
var fusedOp = regexp.MustCompile(`\b(V?F(N)?M(ADD|SUB)[0-9]*(S[DS]|[DS]))\b`)

// compileAsm compiles the Go files in dir as package path for env (GOARCH,
// GOAMD64) with `go tool compile -S` and returns the assembly listing.
func compileAsm(t *testing.T, env []string, path string, files []string) string {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not on PATH (%v): cannot compile for other targets", err)
	}
	tmp := t.TempDir()
	list := exec.Command(gotool, "list", "-export", "-f", "{{if .Export}}packagefile {{.ImportPath}}={{.Export}}{{end}}", "-deps", "math", "math/rand/v2")
	list.Env = append(os.Environ(), env...)
	cfg, err := list.Output()
	if err != nil {
		t.Fatalf("go list -export %v: %v", env, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "importcfg"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"tool", "compile", "-p", path, "-importcfg", filepath.Join(tmp, "importcfg"), "-S", "-o", filepath.Join(tmp, "out.o")}, files...)
	c := exec.Command(gotool, args...)
	c.Env = append(os.Environ(), env...)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("go tool compile %v: %v\n%s", env, err, out)
	}
	return string(out)
}

// targets are the builds whose compiler fuses x*y+z.
var targets = [][]string{{"GOARCH=arm64"}, {"GOARCH=amd64", "GOAMD64=v3"}}

// TestNoFusedMultiplyAdd compiles this package for arm64 and for amd64 v3,
// the targets whose compiler fuses x*y+z into one instruction, and fails
// on any fused instruction in it: every product must be rounded before it
// is added, or the bits of Exp, Log, Pow, Erfinv and Normal would depend on
// the target. The detector is first shown to find the fusion in a*b+c.
// (It compiles for two targets: CI only.)
func TestNoFusedMultiplyAdd(t *testing.T) {
	if os.Getenv("CI") != "true" {
		t.Skip("compiles the package for arm64 and amd64 v3; set CI=true")
	}
	probe := filepath.Join(t.TempDir(), "probe.go")
	if err := os.WriteFile(probe, []byte("package probe\n\nfunc F(a, b, c float64) float64 { return a*b + c }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var src []string
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			src = append(src, f)
		}
	}
	for _, env := range targets {
		if asm := compileAsm(t, env, "probe", []string{probe}); !fusedOp.MatchString(asm) {
			t.Fatalf("%v: a*b+c compiled without a fused instruction: the detector is broken\n%s", env, asm)
		}
		asm := compileAsm(t, env, "github.com/fedgo/fedgo/internal/detmath", src)
		if !strings.Contains(asm, "MUL") {
			t.Fatalf("%v: no multiplication in the listing: it is not this package's", env)
		}
		for _, line := range strings.Split(asm, "\n") {
			if fusedOp.MatchString(line) {
				t.Errorf("%v: fused instruction: %s", env, strings.TrimSpace(line))
			}
		}
	}
}
