package local_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/pcs-dev/pcs/local"
	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/files"
	"github.com/pcs-dev/pcs/transports/memory"
)

// workflowDir writes in.csv (id 0..99, v = id) and the pipeline file src
// (%[1]s: a [[pipeline.component]] row) into a temp dir and loads it.
func workflowDir(t *testing.T, src string) (string, plan.File) {
	t.Helper()
	dir := t.TempDir()
	var sb strings.Builder
	sb.WriteString("id,v\n")
	for i := range 100 {
		fmt.Fprintf(&sb, "%d,%d\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "in.csv"), []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "workflow.toml")
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := plan.LoadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return dir, f
}

// step is a [[pipeline]] reading in, writing out, running systems.
func step(name, in, out, systems string, extra ...string) string {
	return fmt.Sprintf(`
[[pipeline]]
name = %q
input = { files = [%s], component = "row" }
output = { file = %q }
component = [{ name = "row", fields = ["id: int64", "v: float64"] }]
system = [%s]
%s
`, name, in, out, systems, strings.Join(extra, "\n"))
}

func derive(expr string) string {
	return fmt.Sprintf(`{ use = "derive", options = { component = "row", field = "v", expression = %q } }`, expr)
}

// readRows returns the id -> v of a file.
func readRows(t *testing.T, path string) map[int64]float64 {
	t.Helper()
	src, err := files.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sink := memory.NewSink(nil)
	defer sink.Release()
	if _, err := transports.Copy(context.Background(), sink, src, nil); err != nil {
		t.Fatal(err)
	}
	rows := map[int64]float64{}
	for _, rec := range sink.Batches() {
		ids, vs := rec.Column(0).(*array.Int64), rec.Column(1).(*array.Float64)
		for k := range ids.Len() {
			rows[ids.Value(k)] += vs.Value(k)
		}
	}
	return rows
}

func statuses(rep local.Report) map[string]local.StepStatus {
	m := map[string]local.StepStatus{}
	for _, s := range rep.Steps {
		m[s.Name] = s.Status
	}
	return m
}

// leftovers are the files of dir other than in.csv and workflow.toml
// (outputs, and temp files of unfinished outputs).
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if n := e.Name(); n != "in.csv" && n != "workflow.toml" {
			out = append(out, n)
		}
	}
	return out
}

func TestWorkflowDiamond(t *testing.T) {
	// A -> B, A -> C, B+C -> D: D depends on B by depends_on and on C
	// through its input.files.
	src := `[workflow]
cpu = 2
` + step("a", `"in.csv"`, "a.parquet", derive("v + 1")) +
		step("b", `"a.parquet"`, "b.parquet", `{ use = "filter", options = { component = "row", expression = "v > 50" } }`) +
		step("c", `"a.parquet"`, "c.arrow", derive("v * 2")) +
		step("d", `"c.arrow"`, "d.parquet", derive("v + 1000"), `depends_on = ["b"]`)
	dir, f := workflowDir(t, src)
	var mu sync.Mutex
	seen := map[string]int64{}
	rep, err := local.RunWorkflow(context.Background(), f, plan.DefaultRegistry(), nil, func(st local.Stats) {
		mu.Lock()
		seen[st.Pipeline] = st.RowsIn
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "succeeded" || len(rep.Steps) != 4 {
		t.Fatalf("report %+v", rep)
	}
	for _, s := range rep.Steps {
		if s.Status != local.StepSucceeded || s.RowsIn == 0 || s.Retries != 0 {
			t.Errorf("step %+v", s)
		}
	}
	if d := rep.Steps[3].DependsOn; strings.Join(d, ",") != "b,c" {
		t.Errorf("d depends on %v", d)
	}
	if seen["a"] != 100 || seen["d"] != 100 {
		t.Errorf("progress %v", seen)
	}
	a, b, c, d := readRows(t, filepath.Join(dir, "a.parquet")), readRows(t, filepath.Join(dir, "b.parquet")),
		readRows(t, filepath.Join(dir, "c.arrow")), readRows(t, filepath.Join(dir, "d.parquet"))
	if len(a) != 100 || len(b) != 50 || len(c) != 100 || len(d) != 100 {
		t.Fatalf("rows a %d b %d c %d d %d", len(a), len(b), len(c), len(d))
	}
	for id := range int64(100) {
		v := float64(id) + 1
		if a[id] != v || c[id] != 2*v || d[id] != 2*v+1000 {
			t.Fatalf("id %d: a %v c %v d %v", id, a[id], c[id], d[id])
		}
		if _, ok := b[id]; ok != (v > 50) {
			t.Fatalf("id %d in b: %v", id, ok)
		}
	}

	steps := local.Plan(f)
	var order []string
	for _, s := range steps {
		order = append(order, fmt.Sprintf("%d:%s", s.Level, s.Name))
	}
	if got := strings.Join(order, " "); got != "0:a 1:b 1:c 2:d" {
		t.Errorf("plan %s", got)
	}
}

// testRegistry has "fail" (fails every batch, or only the first
// failFirst attempts when set), "block" (waits for ctx after closing
// started once) and the built-ins.
func testRegistry(failFirst int64, started chan struct{}) (*plan.Registry, *atomic.Int64) {
	reg := plan.DefaultRegistry()
	var fails atomic.Int64
	reg.System("fail", func(o plan.Options) (pcs.System, error) {
		return pcs.SystemFunc(pcs.Meta("fail").WithRetry(pcs.NoRetry()), func(ctx context.Context, ds *pcs.Dataset) error {
			if failFirst > 0 && fails.Load() >= failFirst {
				return nil
			}
			fails.Add(1)
			return errors.New("fail: broken on purpose")
		}), nil
	})
	var once sync.Once
	reg.System("block", func(o plan.Options) (pcs.System, error) {
		return pcs.SystemFunc(pcs.Meta("block").WithRetry(pcs.NoRetry()), func(ctx context.Context, ds *pcs.Dataset) error {
			if started != nil {
				once.Do(func() { close(started) })
			}
			<-ctx.Done()
			return ctx.Err()
		}), nil
	})
	return reg, &fails
}

func TestWorkflowStopOnFailure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stop   bool
		c      string // c's systems: blocks until cancelled when stop
		status map[string]local.StepStatus
	}{
		{"stop", true, `{ use = "block" }`, map[string]local.StepStatus{
			"a": local.StepFailed, "b": local.StepSkipped, "c": local.StepCancelled}},
		{"keep going", false, derive("v + 1"), map[string]local.StepStatus{
			"a": local.StepFailed, "b": local.StepSkipped, "c": local.StepSucceeded}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := make(chan struct{})
			reg, _ := testRegistry(0, started)
			// a fails twice (one retry); with stop c is cancelled, running
			// or not yet started; b never runs.
			fail := `{ use = "fail" }`
			src := fmt.Sprintf("[workflow]\ncpu = 2\nstop_on_failure = %v\nretries = 1\nbackoff = \"1ms\"\n", tc.stop) +
				step("a", `"in.csv"`, "a.parquet", fail) +
				step("b", `"a.parquet"`, "b.parquet", derive("v + 1")) +
				step("c", `"in.csv"`, "c.parquet", tc.c, `pool = "io"`)
			dir, f := workflowDir(t, src)
			rep, err := local.RunWorkflow(context.Background(), f, reg, nil, nil)
			if err == nil || !strings.Contains(err.Error(), `pipeline "a"`) || !strings.Contains(err.Error(), "broken on purpose") || errors.Is(err, local.ErrCancelled) {
				t.Fatalf("err = %v", err)
			}
			if got := statuses(rep); fmt.Sprint(got) != fmt.Sprint(tc.status) || rep.Status != "failed" {
				t.Fatalf("statuses %v (%s), want %v", got, rep.Status, tc.status)
			}
			if rep.Steps[0].Retries != 1 {
				t.Errorf("a retried %d times, want 1", rep.Steps[0].Retries)
			}
			want := []string(nil)
			if !tc.stop {
				want = []string{"c.parquet"}
			}
			if got := leftovers(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("files left %v, want %v", got, want)
			}
		})
	}
}

func TestWorkflowRetry(t *testing.T) {
	reg, fails := testRegistry(2, nil)
	dir, f := workflowDir(t, "[workflow]\nretries = 3\nbackoff = \"1ms\"\nmax_backoff = \"5ms\"\n"+
		step("a", `"in.csv"`, "a.parquet", `{ use = "fail" }`)+
		step("b", `"in.csv"`, "b.parquet", derive("v"), "retries = 0"))
	rep, err := local.RunWorkflow(context.Background(), f, reg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Steps[0].Retries != 2 || fails.Load() != 2 || rep.Steps[0].RowsOut != 100 {
		t.Fatalf("step a %+v after %d failures", rep.Steps[0], fails.Load())
	}
	if got := leftovers(t, dir); fmt.Sprint(got) != "[a.parquet b.parquet]" {
		t.Errorf("files %v", got)
	}
}

func TestWorkflowCancel(t *testing.T) {
	for _, tc := range []struct {
		name     string
		workflow string
		cancel   bool
	}{
		{"ctx", "", true},
		{"timeout", "timeout = \"200ms\"\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := make(chan struct{})
			reg, _ := testRegistry(0, started)
			dir, f := workflowDir(t, "[workflow]\n"+tc.workflow+
				step("a", `"in.csv"`, "a.parquet", derive("v + 1")+`, { use = "block" }`)+
				step("b", `"in.csv"`, "b.csv", `{ use = "block" }`)+
				step("c", `"a.parquet"`, "c.parquet", derive("v")))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				select {
				case <-started:
					if tc.cancel {
						cancel()
					}
				case <-time.After(10 * time.Second):
				}
			}()
			rep, err := local.RunWorkflow(ctx, f, reg, nil, nil)
			if !errors.Is(err, local.ErrCancelled) {
				t.Fatalf("err = %v", err)
			}
			if tc.name == "timeout" && !strings.Contains(err.Error(), "timeout 200ms") {
				t.Errorf("err = %v", err)
			}
			want := map[string]local.StepStatus{"a": local.StepCancelled, "b": local.StepCancelled, "c": local.StepCancelled}
			if got := statuses(rep); fmt.Sprint(got) != fmt.Sprint(want) || rep.Status != "cancelled" {
				t.Fatalf("statuses %v (%s)", got, rep.Status)
			}
			if got := leftovers(t, dir); len(got) != 0 {
				t.Errorf("partial files left: %v", got)
			}
		})
	}
}

func TestWorkflowConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"unknown", step("a", `"in.csv"`, "a.csv", derive("v"), `depends_on = ["nope"]`), `pipeline "a": depends_on "nope": no pipeline of that name`},
		{"self", step("a", `"in.csv"`, "a.csv", derive("v"), `depends_on = ["a"]`), `pipeline "a": depends_on names itself`},
		{"cycle", step("a", `"b.csv"`, "a.csv", derive("v")) + step("b", `"in.csv"`, "b.csv", derive("v"), `depends_on = ["a"]`),
			"cycle (depends_on, or input.files matching an output.file): a -> b -> a"},
		{"pool", step("a", `"in.csv"`, "a.csv", derive("v"), `pool = "gpu"`), `pool "gpu": want cpu or io`},
		{"limits", "[workflow]\ncpu = -1\n" + step("a", `"in.csv"`, "a.csv", derive("v")), "workflow: cpu (-1) and io (4) must be >= 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := plan.ParseFile("w.toml", []byte(tc.src))
			if !errors.Is(err, plan.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
