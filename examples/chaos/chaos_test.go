package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestChaosShort runs three rows of the fault matrix once with real
// processes (pcs broker, three pcs-node): a worker killed with SIGKILL,
// forged catalog commands, malformed partitions. Each must lose, duplicate
// and invent no row, leave every node's catalog equal to the input and
// dead-letter exactly the malformed partitions; the table names them.
// `make chaos` runs the whole matrix.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs fleets of processes")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/pcs", "./cmd/pcs-node")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out bytes.Buffer
	o := options{repo: repo, bin: bin, runs: 1, only: regexp.MustCompile(`kill -9 worker|forged|malformed`)}
	err = suite(context.Background(), o, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| kill -9 worker | 1 | 0 | 0 | 0 | 0 | 0 |", "| forged catalog commands (key_file set) | 1 | 0 | 0 | 0 | 0 | 0 |",
		"| malformed partitions (10 kinds) | 1 | 0 | 0 | 0 | 0 | 10 |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q", want)
		}
	}
}
