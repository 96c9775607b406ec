package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/pcs-dev/pcs/local"
	"github.com/pcs-dev/pcs/plan"
)

// TestRunLocalMatchesNode runs the demo's pipeline section from
// node.toml file-in/file-out (`pcs run` mode) on the shipped slice and
// checks its output against the same direct computation TestDemo checks
// the pcs-node output against: the two modes give the same result.
func TestRunLocalMatchesNode(t *testing.T) {
	t.Setenv("PCS_AIRPORTS", "testdata/airports.csv")
	cfg, err := plan.LoadFile("node.toml")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "enriched.parquet")
	cfg.Pipelines[0].Input.Files = []string{"testdata/flights-50k.parquet"}
	cfg.Pipelines[0].Output.File = out
	reg := plan.DefaultRegistry()
	ctx := context.Background()
	stats, err := local.Run(ctx, cfg.Pipelines, reg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := summarizeOutput(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := computeDirectly(ctx, "testdata/flights-50k.parquet", "testdata/airports.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !got.equal(want) || stats[0].RowsIn != 50000 || stats[0].RowsOut != want.Rows {
		t.Fatalf("local run %+v: summary %+v, want %+v", stats[0], got, want)
	}
}

// TestNodeTOMLFromAnyDirectory: node.toml's defaults are relative to the
// file, so `pcs run --config examples/flights/node.toml` reads the
// shipped 50k slice and airports.csv from any working directory, with no
// ../shared.
func TestNodeTOMLFromAnyDirectory(t *testing.T) {
	config, err := filepath.Abs("node.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"PCS_FLIGHTS", "PCS_AIRPORTS"} {
		t.Setenv(v, "") // empty: the file's default
	}
	out := filepath.Join(t.TempDir(), "enriched.parquet")
	t.Setenv("PCS_OUT", out)
	t.Chdir(t.TempDir())
	cfg, err := plan.LoadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := local.Run(context.Background(), cfg.Pipelines, plan.DefaultRegistry(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats[0].RowsIn != 50000 || stats[0].Output != out {
		t.Errorf("stats %+v", stats[0])
	}
}
