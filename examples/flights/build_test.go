package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestBuildSaysWhatItDoes: make demo's build step prints a line before
// the build starts, progress while it runs (the packages go build -v
// names), and a line when it is done; a failed build returns go build's
// output.
func TestBuildSaysWhatItDoes(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	// a stand-in for go build -v: two packages, a pause, a third
	fake := exec.Command("sh", "-c", "echo example.com/a; echo example.com/b; sleep 0.5; echo example.com/c")
	var out bytes.Buffer
	if err := buildBinaries(fake, &out, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "building:      pcs and pcs-node (go build; the first build") ||
		!strings.Contains(out.String(), "packages compiled so far") ||
		!strings.HasPrefix(lines[len(lines)-1], "built:         pcs and pcs-node in ") || !strings.HasSuffix(lines[len(lines)-1], "(3 packages compiled)") {
		t.Errorf("output:\n%s", out.String())
	}

	out.Reset()
	bad := exec.Command("sh", "-c", "echo '# example.com/a'; echo 'a.go:1:1: syntax error'; exit 1")
	err := buildBinaries(bad, &out, time.Second)
	if err == nil || !strings.Contains(err.Error(), "a.go:1:1: syntax error") {
		t.Errorf("failed build: %v", err)
	}
}
