package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVetTool builds levee-vet and runs it as go vet -vettool over a module
// with one bug per analyzer: every analyzer must report through the vet
// protocol, and go vet must fail.
func TestVetTool(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary and runs go vet")
	}
	bin := filepath.Join(t.TempDir(), "levee-vet")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	vet := exec.Command("go", "vet", "-vettool="+bin, "./...")
	vet.Dir = filepath.Join("testdata", "mod")
	vet.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var out bytes.Buffer
	vet.Stdout, vet.Stderr = &out, &out
	if err := vet.Run(); err == nil {
		t.Fatalf("go vet -vettool succeeded on buggy code; output:\n%s", out.String())
	}
	for _, want := range []string{
		"http.Client without Timeout",            // clienttimeout
		"defer recover() stops no panic",         // deadrecover
		"goroutine started by an HTTP handler",   // handlergo
		"returns without calling next.ServeHTTP", // nextcall
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("go vet -vettool output lacks %q:\n%s", want, out.String())
		}
	}
}
