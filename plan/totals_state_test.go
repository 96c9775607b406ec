package plan_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/plan"
)

const totalsStateTOML = `
[[pipeline]]
name = "t"
input = { subjects = ["in.t"], component = "event" }
output = { subject = "out.t" }
STATE

[[pipeline.component]]
name = "event"
fields = ["k: string", "v: int64"]

[[pipeline.component]]
name = "running"
fields = ["total: int64"]

[[pipeline.system]]
use = "totals"
options = { component = "event", keys = ["k"], value = "v", into = "running", out = "total" }
`

// TestTotalsStateBackend: the same partitions through a totals pipeline
// with state in memory and in pebble (state = { backend = "pebble" })
// give the same outputs and the same checkpointed state.
func TestTotalsStateBackend(t *testing.T) {
	dir := t.TempDir()
	build := func(state string) *plan.Plan {
		cfg, err := plan.ParseFile("t.toml", []byte(strings.Replace(totalsStateTOML, "STATE", state, 1)))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Pipelines[0].Dir = dir
		p, err := plan.Build(context.Background(), cfg.Pipelines[0], plan.DefaultRegistry())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	mem := build("")
	disk := build(`state = { backend = "pebble", dir = "st", cache = "4MiB" }`)
	if _, err := os.Stat(filepath.Join(dir, "st", "t", "totals")); err != nil {
		t.Fatalf("no pebble store in <dir>/<pipeline>/<system>: %v", err)
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	step := func(p *plan.Plan, i int) string {
		var rows []string
		for j := range 50 {
			rows = append(rows, fmt.Sprintf(`{"k":"k%d","v":%d}`, (i*7+j*3)%20, j-i))
		}
		rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema, strings.NewReader("["+strings.Join(rows, ",")+"]"))
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Step(context.Background(), plan.Input{ID: fmt.Sprint(i), Batches: []arrow.RecordBatch{rec}})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Results.Release()
		b, err := out.Results.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for i := range 5 {
		if got, want := step(disk, i), step(mem, i); got != want {
			t.Fatalf("partition %d: pebble output\n%s\nwant (memory)\n%s", i, got, want)
		}
	}
	// The checkpoints are equal too (the snapshot format is shared and
	// keys are in order).
	ms, ds := mem.States(), disk.States()
	if len(ms) != 1 || len(ds) != 1 {
		t.Fatalf("%d and %d states, want 1", len(ms), len(ds))
	}
	a, err := ms[0].Save()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ds[0].Save()
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Error("memory and pebble checkpoints differ")
	}
	if err := ms[0].Load(b); err != nil {
		t.Fatal(err)
	}
}

func TestStateConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct{ state, want string }{
		"unknown backend": {`state = { backend = "rocks" }`, `state.backend "rocks"`},
		"pebble no dir":   {`state = { backend = "pebble" }`, `state.dir is empty`},
		"memory with dir": {`state = { dir = "x" }`, `options of the pebble backend`},
		"bad cache":       {`state = { backend = "pebble", dir = "x", cache = "lots" }`, `size "lots"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := plan.ParseFile("t.toml", []byte(strings.Replace(totalsStateTOML, "STATE", tc.state, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
			if tc.want != `size "lots"` && !errors.Is(err, plan.ErrConfig) {
				t.Errorf("error %v does not wrap ErrConfig", err)
			}
		})
	}
}
