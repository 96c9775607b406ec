package local_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcs-dev/pcs/local"
	"github.com/pcs-dev/pcs/plan"
)

// TestREADMEConfigParses keeps the node config shown in README.md valid.
func TestREADMEConfigParses(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```toml\n")
	if !ok {
		t.Fatal("README has no toml block")
	}
	block, _, _ = strings.Cut(block, "```")
	cfg, err := plan.ParseFile("README.md", []byte(block))
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Pipelines[0]; p.Name != "flights" || p.Delivery.MaxDeliver != 5 || time.Duration(p.Delivery.AckWait) != 30*time.Second || p.Delivery.FetchMaxBytes != 16<<20 {
		t.Errorf("parsed %+v", p)
	}
	// And it runs: on the shipped flights slice, with `pcs run` semantics.
	p := &cfg.Pipelines[0]
	p.Input.Files = []string{"../examples/flights/testdata/flights-50k.parquet"}
	p.Output.File = filepath.Join(t.TempDir(), "out.parquet")
	p.Resources[0].Options["path"] = "../examples/flights/testdata/airports.csv"
	st, err := local.Run(context.Background(), cfg.Pipelines, plan.DefaultRegistry(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st[0].RowsIn != 50000 || st[0].RowsOut == 0 || st[0].RowsOut > st[0].RowsIn {
		t.Errorf("stats %+v", st[0])
	}
}

// TestREADMEInstall: the README's Install section installs the module's
// commands (go install <module>/cmd/...@latest: exactly pcs and pcs-node)
// and `make build` builds both into ./bin.
func TestREADMEInstall(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, install, ok := strings.Cut(string(readme), "\n## Install\n")
	if !ok {
		t.Fatal("README has no Install section")
	}
	install, _, _ = strings.Cut(install, "\n## ")
	mod, err := exec.Command("go", "list", "-m").Output()
	if err != nil {
		t.Fatal(err)
	}
	goInstall := "go install " + strings.TrimSpace(string(mod)) + "/cmd/...@latest"
	for _, want := range []string{goInstall, "make build", "./bin/pcs version"} {
		if !strings.Contains(install, want) {
			t.Errorf("Install section lacks %q:\n%s", want, install)
		}
	}
	cmds, err := exec.Command("go", "list", "-f", "{{.Name}} {{.ImportPath}}", "../cmd/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "main " + strings.TrimSpace(string(mod)) + "/cmd/pcs\nmain " + strings.TrimSpace(string(mod)) + "/cmd/pcs-node\n"
	if string(cmds) != want {
		t.Errorf("cmd/... holds\n%s\nwant\n%s", cmds, want)
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	out, err := exec.Command("make", "-C", "..", "-n", "build").Output()
	if err != nil {
		t.Fatalf("make -n build: %v", err)
	}
	if !strings.Contains(string(out), "build -o bin/ ./cmd/pcs ./cmd/pcs-node") {
		t.Errorf("make -n build prints %q, want a go build of ./cmd/pcs and ./cmd/pcs-node into bin/", out)
	}
}
