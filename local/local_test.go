package local_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/pcs-dev/pcs/local"
	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/files"
	"github.com/pcs-dev/pcs/transports/memory"
)

func localConfig(t *testing.T, files []string, out string) []plan.Pipeline {
	ps := []plan.Pipeline{{
		Name:       "p",
		Components: []string{"row"},
		Input:      plan.InputConfig{Files: files, Component: "row"},
		Output:     plan.OutputConfig{File: out},
		Systems: []plan.UseConfig{
			{Use: "filter", Options: map[string]any{"component": "row", "expression": "v >= 10"}},
			{Use: "derive", Options: map[string]any{"component": "row", "field": "v", "expression": "v * 2"}},
		},
	}}
	if err := plan.SetupPipelines(ps); err != nil {
		t.Fatal(err)
	}
	return ps
}

// row is the input component of localConfig's pipeline.
type row struct {
	ID int64   `arrow:"id"`
	V  float64 `arrow:"v"`
}

// registry is the built-ins and the row component.
func registry() *plan.Registry {
	reg := plan.DefaultRegistry()
	reg.Component(pcs.MustComponent[row]("row"))
	return reg
}

func TestRunLocal(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	var sb strings.Builder
	sb.WriteString("id,v\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&sb, "%d,%d.5\n", i, i)
	}
	if err := os.WriteFile(in, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.parquet")
	reg := registry()
	stats, err := local.Run(context.Background(), localConfig(t, []string{filepath.Join(dir, "*.csv")}, out), reg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 1 || stats[0].Files != 1 || stats[0].RowsIn != 100 || stats[0].RowsOut != 90 {
		t.Fatalf("stats %+v", stats)
	}
	src, err := files.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sink := memory.NewSink(nil)
	defer sink.Release()
	if _, err := transports.Copy(context.Background(), sink, src, nil); err != nil {
		t.Fatal(err)
	}
	i := int64(10)
	for _, rec := range sink.Batches() {
		ids, vs := rec.Column(0).(*array.Int64), rec.Column(1).(*array.Float64)
		for k := 0; k < ids.Len(); k++ {
			if ids.Value(k) != i || vs.Value(k) != 2*(float64(i)+0.5) {
				t.Fatalf("row %d: id %d v %v", i, ids.Value(k), vs.Value(k))
			}
			i++
		}
		rec.Release()
	}
	if i != 100 {
		t.Fatalf("read rows up to %d", i)
	}
}

func TestRunLocalBadInputLeavesNoOutput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("id,w\n1,2\n"), 0o644); err != nil { // no column v
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.parquet")
	reg := registry()
	_, err := local.Run(context.Background(), localConfig(t, []string{in}, out), reg, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "in.csv") || !strings.Contains(err.Error(), `"v"`) {
		t.Fatalf("err = %v", err)
	}
	if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("output left behind: %v", serr)
	}
	if _, err := local.Run(context.Background(), localConfig(t, []string{filepath.Join(dir, "*.nope")}, out), reg, nil, nil); !errors.Is(err, plan.ErrConfig) {
		t.Errorf("unmatched glob: %v", err)
	}
}
