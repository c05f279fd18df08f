package main

import (
	"os"
	"strings"
	"testing"
)

// The README's "Using it" section is this program, verbatim, so that it
// compiles and runs (this package's build is the check).
func TestREADMEIsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```go\n"+string(src)+"```\n") {
		t.Error("README.md's Go block under \"Using it\" differs from examples/hello/main.go; copy the file into it")
	}
}

func Example_main() {
	main()
	// The clients' values 0..9 with weights 1,2,3,1,2,3,...: the weighted
	// mean is 87/19 = 4.5789…; each round halves the distance to it, and
	// after twenty the distance, 4.58·2^-20, is below the digits printed.
	// Output: after 20 rounds the model is 4.5789
}
