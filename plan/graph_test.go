package plan_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/local"
	"github.com/pcs-dev/pcs/pcs/graph"
	"github.com/pcs-dev/pcs/plan"
)

const graphTOML = `
[[pipeline]]
name = "g"
input = { subjects = ["edges"], component = "edge" }
output = { subject = "ranks" }

[[pipeline.component]]
name = "edge"
fields = ["src: string", "dst: string", "w: int64"]

[[pipeline.system]]
use = "filter"
options = { component = "edge", expression = "w > 0" }

[[pipeline.system]]
use = "SYSTEM"
options = OPTIONS
`

func graphPlan(t *testing.T, system, options string) *plan.Plan {
	t.Helper()
	text := strings.NewReplacer("SYSTEM", system, "OPTIONS", options).Replace(graphTOML)
	cfg, err := plan.ParseFile("g.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(context.Background(), cfg.Pipelines[0], plan.DefaultRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// edgeBatch is a partition of edges "a>b:w".
func edgeBatch(mem memory.Allocator, edges ...string) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: "src", Type: arrow.BinaryTypes.String}, {Name: "dst", Type: arrow.BinaryTypes.String}, {Name: "w", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, e := range edges {
		s, rest, _ := strings.Cut(e, ">")
		d, w, _ := strings.Cut(rest, ":")
		b.Field(0).(*array.StringBuilder).Append(s)
		b.Field(1).(*array.StringBuilder).Append(d)
		n := int64(0)
		for _, c := range w {
			n = n*10 + int64(c-'0')
		}
		b.Field(2).(*array.Int64Builder).Append(n)
	}
	return b.NewRecordBatch()
}

// column returns rec's rows as "vertex=value" for column name.
func column(rec arrow.RecordBatch, name string) map[string]string {
	out := map[string]string{}
	idx := rec.Schema().FieldIndices(name)[0]
	for i := range int(rec.NumRows()) {
		out[rec.Column(0).ValueStr(i)] = rec.Column(idx).ValueStr(i)
	}
	return out
}

// TestGraphSystemEndOfInput: a graph system outputs nothing per
// partition and its result at the end of input, over the alive rows of
// every partition (a filter before it deletes w = 0), whether the end
// comes from Flush (pcs run) or a Final partition (pcs-node); the edge
// list survives a checkpoint (States Save/Load) into a new plan.
func TestGraphSystemEndOfInput(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	opts := `{ component = "edge", source = "src", target = "dst", weight = "w", root = "a" }`
	p := graphPlan(t, "shortest_paths", opts)
	if got := p.OutputSchema(); !got.Equal(graph.PathsSchema(graph.StringIDs)) {
		t.Fatalf("output schema %s", got)
	}
	out, err := p.Step(ctx, plan.Input{ID: "s/1", Source: "s", Batches: []arrow.RecordBatch{edgeBatch(mem, "a>b:5", "b>c:1", "a>z:0")}})
	if err != nil || out.Results != nil {
		t.Fatalf("first partition: %v %v", out.Results, err)
	}
	out.Release()
	// checkpoint, then a new plan restores it and gets the rest
	states := p.States()
	if len(states) != 1 {
		t.Fatalf("%d states", len(states))
	}
	saved, err := states[0].Save()
	if err != nil {
		t.Fatal(err)
	}
	p2 := graphPlan(t, "shortest_paths", opts)
	if err := p2.States()[0].Load(saved); err != nil {
		t.Fatal(err)
	}
	out, err = p2.Step(ctx, plan.Input{ID: "s/2", Source: "s", Batches: []arrow.RecordBatch{edgeBatch(mem, "a>c:7", "c>d:2")}, Final: true})
	if err != nil {
		t.Fatal(err)
	}
	got := column(out.Results, graph.DistanceColumn)
	out.Release()
	want := map[string]string{"a": "0", "b": "5", "c": "6", "d": "8"} // z: its edge was filtered out
	if len(got) != len(want) {
		t.Fatalf("distances %v, want %v", got, want)
	}
	for v, d := range want {
		if got[v] != d {
			t.Fatalf("distances %v, want %v", got, want)
		}
	}
	fl, err := p2.Flush(ctx) // pcs run's end of input: the same answer
	if err != nil || fl.Results == nil || fl.Results.NumRows() != 4 {
		t.Fatalf("flush: %v %v", fl.Results, err)
	}
	fl.Release()
}

// TestGraphSystems builds each graph system from TOML and checks a
// small answer.
func TestGraphSystems(t *testing.T) {
	ctx := context.Background()
	edges := []string{"a>b:1", "b>a:1", "b>c:1", "d>e:1"}
	for _, tc := range []struct {
		system, options, column string
		want                    map[string]string
	}{
		{"pagerank", `{ component = "edge", source = "src", target = "dst", damping = 0.85, tolerance = 1e-9, max_iterations = 200 }`, "rank", nil},
		{"bfs", `{ component = "edge", source = "src", target = "dst", root = "a" }`, "level",
			map[string]string{"a": "0", "b": "1", "c": "2", "d": "(null)", "e": "(null)"}},
		{"components", `{ component = "edge", source = "src", target = "dst" }`, "component",
			map[string]string{"a": "0", "b": "0", "c": "0", "d": "1", "e": "1"}},
		{"components", `{ name = "scc", component = "edge", source = "src", target = "dst", strong = true }`, "component",
			map[string]string{"a": "0", "b": "0", "c": "1", "d": "2", "e": "3"}},
		{"degree", `{ component = "edge", source = "src", target = "dst", directed = false }`, "degree",
			map[string]string{"a": "2", "b": "3", "c": "1", "d": "1", "e": "1"}},
	} {
		t.Run(tc.system, func(t *testing.T) {
			p := graphPlan(t, tc.system, tc.options)
			out, err := p.Step(ctx, plan.Input{ID: "s/1", Batches: []arrow.RecordBatch{edgeBatch(memory.DefaultAllocator, edges...)}, Final: true})
			if err != nil {
				t.Fatal(err)
			}
			defer out.Release()
			got := column(out.Results, tc.column)
			if tc.want == nil { // pagerank: sums to 1, c ranks above e
				ranks := out.Results.Column(1).(*array.Float64).Float64Values()
				var s float64
				for _, r := range ranks {
					s += r
				}
				if s < 0.999999 || s > 1.000001 || got["c"] <= got["e"] {
					t.Fatalf("ranks %v", got)
				}
				return
			}
			for v, w := range tc.want {
				if got[v] != w {
					t.Fatalf("%s: %v, want %v", tc.column, got, tc.want)
				}
			}
		})
	}
}

// TestGraphSystemErrors: a graph system must be last; bad options and an
// unknown root are errors.
func TestGraphSystemErrors(t *testing.T) {
	cfg, err := plan.ParseFile("g.toml", []byte(strings.NewReplacer("SYSTEM", "degree", "OPTIONS", `{ component = "edge", source = "src", target = "dst" }`).Replace(graphTOML)+`
[[pipeline.system]]
use = "filter"
options = { name = "late", component = "edge", expression = "w > 1" }
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Build(context.Background(), cfg.Pipelines[0], plan.DefaultRegistry()); !errors.Is(err, plan.ErrConfig) {
		t.Fatalf("graph system not last: %v", err)
	}
	for _, opts := range []string{
		`{ component = "edge", source = "src" }`,
		`{ component = "edge", source = "src", target = "dst", damping = 1.5 }`,
		`{ component = "edge", source = "src", target = "nope" }`,
		`{ component = "edge", source = "src", target = "dst", bogus = 1 }`,
	} {
		text := strings.NewReplacer("SYSTEM", "pagerank", "OPTIONS", opts).Replace(graphTOML)
		cfg, err := plan.ParseFile("g.toml", []byte(text))
		if err == nil {
			_, err = plan.Build(context.Background(), cfg.Pipelines[0], plan.DefaultRegistry())
		}
		if err == nil {
			t.Errorf("%s: no error", opts)
		}
	}
	p := graphPlan(t, "bfs", `{ component = "edge", source = "src", target = "dst", root = "nowhere" }`)
	_, err = p.Step(context.Background(), plan.Input{ID: "s/1", Batches: []arrow.RecordBatch{edgeBatch(memory.DefaultAllocator, "a>b:1")}, Final: true})
	if !errors.Is(err, graph.ErrUnknownVertex) {
		t.Fatalf("unknown root: %v", err)
	}
}

// TestGraphDoc runs every example of docs/graph.md: each TOML block (a
// whole pipeline) with `pcs run` (local.Run) in a directory holding the
// page's csv files; its output must equal the "csv out" block after it.
func TestGraphDoc(t *testing.T) {
	names, blocks := docSections(t, "../docs/graph.md")
	files := map[string]string{}
	for _, name := range names {
		for _, b := range blocks[name] {
			if f, ok := strings.CutPrefix(b.info, "csv file="); ok {
				files[f] = b.text
			}
		}
	}
	examples := 0
	for _, name := range names {
		toml := ""
		for _, b := range blocks[name] {
			switch b.info {
			case "toml":
				toml = b.text
			case "csv out":
				if toml == "" {
					t.Fatalf("docs/graph.md:%d: csv out without a TOML block before it", b.line)
				}
				examples++
				src := toml
				toml = ""
				t.Run(name, func(t *testing.T) {
					dir := t.TempDir()
					for f, body := range files {
						if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
							t.Fatal(err)
						}
						src = strings.ReplaceAll(src, strconv.Quote(f), strconv.Quote(filepath.Join(dir, f)))
					}
					src = strings.ReplaceAll(src, `"out.csv"`, strconv.Quote(filepath.Join(dir, "out.csv")))
					cfg, err := plan.ParseFile(name+".toml", []byte(src))
					if err != nil {
						t.Fatal(err)
					}
					if _, err := local.Run(context.Background(), cfg.Pipelines, plan.DefaultRegistry(), nil, nil); err != nil {
						t.Fatal(err)
					}
					got, err := os.ReadFile(filepath.Join(dir, "out.csv"))
					if err != nil {
						t.Fatal(err)
					}
					if string(got) != b.text {
						t.Errorf("docs/graph.md:%d: output\n%s\nwant\n%s", b.line, got, b.text)
					}
				})
			}
		}
		if toml != "" {
			t.Errorf("docs/graph.md: section %q has a TOML block with no csv out after it", name)
		}
	}
	if examples < 5 {
		t.Errorf("%d examples, want one per graph system", examples)
	}
}
