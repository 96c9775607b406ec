package plan_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/plan"
)

const windowStateTOML = `
[[pipeline]]
name = "w"
input = { subjects = ["in.w"], component = "event" }
output = { subject = "out.w" }
STATE

[[pipeline.component]]
name = "event"
fields = ["ts: int64", "k: string", "v: int64"]

[[pipeline.system]]
use = "window"
options = { time = "ts", time_unit = "ms", window = "WINDOW", keys = ["k"], aggregates = ["sum(v) as total", "count(*) as n", "count_distinct(v) as d"] }
`

// TestWindowStateBackend: a window pipeline with its state in pebble
// (state = { backend = "pebble", resident = 4 }: the state spills after
// every partition) gives the in-memory pipeline's results, for session
// and sliding windows, also after its checkpoint (plan.State) is loaded
// into a new plan halfway.
func TestWindowStateBackend(t *testing.T) {
	for _, win := range []string{"session(40ms)", "sliding(60ms, 20ms)"} {
		t.Run(win, func(t *testing.T) {
			build := func(dir, state string) *plan.Plan {
				src := strings.NewReplacer("STATE", state, "WINDOW", win).Replace(windowStateTOML)
				cfg, err := plan.ParseFile("w.toml", []byte(src))
				if err != nil {
					t.Fatal(err)
				}
				cfg.Pipelines[0].Dir = dir
				p, err := plan.Build(context.Background(), cfg.Pipelines[0], plan.DefaultRegistry())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					if err := p.Close(); err != nil {
						t.Error(err)
					}
				})
				return p
			}
			const pebble = `state = { backend = "pebble", dir = "st", cache = "4MiB", resident = 4 }`
			schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: arrow.PrimitiveTypes.Int64},
				{Name: "k", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
			var lines []string
			collect := func(out plan.Output, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				if out.Results == nil {
					return
				}
				defer out.Results.Release()
				for r := range int(out.Results.NumRows()) {
					var cells []string
					for _, c := range out.Results.Columns() {
						cells = append(cells, c.ValueStr(r))
					}
					lines = append(lines, strings.Join(cells, "|"))
				}
			}
			run := func(ps ...*plan.Plan) []string {
				lines = nil
				p := ps[0]
				for i := range 40 {
					if i == 20 && len(ps) > 1 { // checkpoint, restore into a new plan
						st, err := p.States()[0].Save()
						if err != nil {
							t.Fatal(err)
						}
						p = ps[1]
						if err := p.States()[0].Load(st); err != nil {
							t.Fatal(err)
						}
					}
					var rows []string
					for j := range 25 {
						rows = append(rows, fmt.Sprintf(`{"ts":%d,"k":"k%d","v":%d}`, i*10+j%10, (i*7+j*3)%30, j%5))
					}
					rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema, strings.NewReader("["+strings.Join(rows, ",")+"]"))
					if err != nil {
						t.Fatal(err)
					}
					collect(p.Step(context.Background(), plan.Input{ID: fmt.Sprint(i), Batches: []arrow.RecordBatch{rec}}))
					rec.Release()
				}
				collect(p.Flush(context.Background()))
				slices.Sort(lines)
				return lines
			}
			dir := t.TempDir()
			want := run(build(dir, ""))
			got := run(build(dir, pebble), build(t.TempDir(), pebble))
			if _, err := os.Stat(filepath.Join(dir, "st", "w", "window")); err != nil {
				t.Fatalf("no pebble store in <dir>/<pipeline>/window: %v", err)
			}
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Fatalf("pebble: %d results\n%s\nwant (memory) %d\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
			}
		})
	}
}
