package local_test

import (
	"context"
	"os"
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
