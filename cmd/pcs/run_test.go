package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

func TestRunCommand(t *testing.T) {
	td, err := filepath.Abs("../../examples/flights/testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out.parquet")
	config := filepath.Join(dir, "pipeline.toml")
	src := fmt.Sprintf(`[[pipeline]]
name = "flights"
input = { files = [%q], component = "flight" }
output = { file = %q, components = ["route"] }
component = [
  { name = "flight", fields = ["delay: int64", "origin: large_string", "destination: large_string"] },
  { name = "route", fields = ["origin_state: string", "dest_state: string", "route: string", "cat: string", "delayed: bool"] },
]
resource = [{ use = "table", options = { name = "airports", path = %q, keys = ["iata"] } }]
system = [{ use = "filter", options = { component = "flight", expression = "delay > 60" } },
          { use = "lookup", options = { component = "flight", into = "route", table = "airports", keys = ["origin"], values = ["origin_state"], columns = ["state"] } },
          { use = "derive", options = { component = "flight", into = "route", field = "delayed", expression = "delay > 15" } }]
`, filepath.Join(td, "flights-50k.parquet"), out, filepath.Join(td, "airports.csv"))
	if err := os.WriteFile(config, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustPCS(t, "run", "--config", config)
	if !strings.Contains(r.stdout, "flights: 1 file(s), 50,000 rows in, ") {
		t.Fatalf("summary: %v", r)
	}
	var rows, delayed int
	for _, rec := range readFile(t, out) {
		if rec.Schema().Field(4).Name != "delayed" {
			t.Fatalf("output schema %s", rec.Schema())
		}
		d := rec.Column(4).(*array.Boolean)
		for i := 0; i < d.Len(); i++ {
			rows++
			if d.IsValid(i) && d.Value(i) {
				delayed++
			}
		}
		rec.Release()
	}
	// delay > 60 was filtered first: every kept flight is delayed (> 15).
	if rows == 0 || rows >= 50000 || delayed != rows {
		t.Fatalf("%d rows out, %d delayed", rows, delayed)
	}

	if r := pcs(context.Background(), "run"); r.code != 2 || !strings.Contains(r.stderr, "--config") {
		t.Errorf("no config: %v", r)
	}
	if r := pcs(context.Background(), "run", "--config", filepath.Join(dir, "none.toml")); r.code != 1 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("missing config: %v", r)
	}
}

// workflowDoc returns the blocks of docs/workflows.md: the ```toml config,
// the --plan example's output, the cancellation line and the ```json
// report.
func workflowDoc(t *testing.T) (config string, planOut []string, cancelled string, report string) {
	t.Helper()
	b, err := os.ReadFile("../../docs/workflows.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for i, part := range strings.Split(string(b), "```") {
		if i%2 == 1 {
			blocks = append(blocks, part)
		}
	}
	for _, blk := range blocks {
		info, body, _ := strings.Cut(blk, "\n")
		switch {
		case info == "toml":
			config = body
		case info == "json":
			report = body
		case strings.HasPrefix(body, "$ pcs run --config workflow.toml --plan\n"):
			planOut = strings.Split(strings.TrimSpace(strings.TrimPrefix(body, "$ pcs run --config workflow.toml --plan\n")), "\n")
		case strings.HasPrefix(body, "pcs: run cancelled"):
			cancelled = strings.TrimSpace(body)
		}
	}
	if config == "" || planOut == nil || cancelled == "" || report == "" {
		t.Fatalf("docs/workflows.md: config %t, plan %t, cancelled %t, report %t", config != "", planOut != nil, cancelled != "", report != "")
	}
	return config, planOut, cancelled, report
}

func workflowTestDir(t *testing.T, config string) (dir, cfg string) {
	t.Helper()
	dir = t.TempDir()
	data, err := os.ReadFile(flightsSlice)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "flights.parquet"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg = filepath.Join(dir, "workflow.toml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

// TestWorkflowDoc runs the examples of docs/workflows.md: the diamond's
// --plan output, its run and report, and its cancellation by the
// [workflow] timeout leaving no partial file.
func TestWorkflowDoc(t *testing.T) {
	config, planOut, cancelled, docReport := workflowDoc(t)
	dir, cfg := workflowTestDir(t, config)
	r := mustPCS(t, "run", "--config", cfg, "--plan")
	if got := strings.Split(strings.TrimSpace(r.stdout), "\n"); strings.Join(got, "\n") != strings.Join(planOut, "\n") {
		t.Errorf("--plan:\n%s\ndoc:\n%s", r.stdout, strings.Join(planOut, "\n"))
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("--plan ran something: %d files", len(ents))
	}

	reportPath := filepath.Join(dir, "report.json")
	r = mustPCS(t, "run", "--config", cfg, "--report", reportPath)
	for _, step := range []string{"clean", "late", "seconds", "summary"} {
		if !strings.Contains(r.stdout, step+": 1 file(s), ") {
			t.Errorf("no summary of %s: %v", step, r)
		}
	}
	b, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	var got, doc struct {
		Status string           `json:"status"`
		Steps  []map[string]any `json:"steps"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(docReport), &doc); err != nil {
		t.Fatalf("doc report: %v", err)
	}
	if got.Status != "succeeded" || len(got.Steps) != 4 || doc.Status != got.Status {
		t.Fatalf("report %s", b)
	}
	for k, v := range doc.Steps[0] {
		g, ok := got.Steps[0][k]
		switch k {
		case "name", "status", "pool", "retries", "files", "rows_in", "rows_out":
			if fmt.Sprint(g) != fmt.Sprint(v) {
				t.Errorf("report clean %s = %v, doc %v", k, g, v)
			}
		case "output":
			if g != filepath.Join(dir, "clean.parquet") {
				t.Errorf("report clean output %v", g)
			}
		default:
			if !ok {
				t.Errorf("report has no %s", k)
			}
		}
	}
	late, seconds, summary := readFile(t, filepath.Join(dir, "late.parquet")), readFile(t, filepath.Join(dir, "seconds.parquet")), readFile(t, filepath.Join(dir, "summary.arrow"))
	count := func(recs []arrow.RecordBatch, keep func(d int64) bool) (n int64) {
		for _, rec := range recs {
			d := rec.Column(0).(*array.Int64)
			for i := range d.Len() {
				if !keep(d.Value(i)) {
					t.Fatalf("row with delay %d", d.Value(i))
				}
			}
			n += rec.NumRows()
			rec.Release()
		}
		return n
	}
	rows := func(name string) int64 {
		for _, s := range got.Steps {
			if s["name"] == name {
				return int64(s["rows_out"].(float64))
			}
		}
		return -1
	}
	if n := count(late, func(d int64) bool { return d > 60 }); n != rows("late") || n == 0 {
		t.Errorf("late: %d rows, report %d", n, rows("late"))
	}
	if n := count(seconds, func(d int64) bool { return d%60 == 0 }); n != rows("clean") {
		t.Errorf("seconds: %d rows, clean %d", n, rows("clean"))
	}
	if n := count(summary, func(d int64) bool { return d > 120 }); n != rows("summary") || n == 0 || n >= rows("late") {
		t.Errorf("summary: %d rows, report %d", n, rows("summary"))
	}

	// The [workflow] timeout cancels the run mid-way: exit 1, one line,
	// no partial output, a report saying so.
	cdir, ccfg := workflowTestDir(t, strings.Replace(config, `timeout = "10m"`, `timeout = "1ms"`, 1))
	r = pcs(context.Background(), "run", "--config", ccfg, "--report", filepath.Join(cdir, "report.json"))
	wantLine := strings.Replace(cancelled, "10m0s", "1ms", 1)
	if r.code != 1 || r.stderr != wantLine+"\n" {
		t.Fatalf("cancelled run: %v, want %q", r, wantLine)
	}
	ents, _ := os.ReadDir(cdir)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if strings.Join(left, " ") != "flights.parquet report.json workflow.toml" {
		t.Errorf("files after cancellation: %v", left)
	}
	if b, err := os.ReadFile(filepath.Join(cdir, "report.json")); err != nil || !strings.Contains(string(b), `"status": "cancelled"`) {
		t.Errorf("report of the cancelled run: %s %v", b, err)
	}
}

// TestRunWorkflowCancelCtx cancels `pcs run` (Ctrl-C's ctx) while its
// steps run: exit 1 with "pcs: run cancelled: context canceled"; the
// files left are exactly the outputs of the steps that finished before
// (no partial or temp file).
func TestRunWorkflowCancelCtx(t *testing.T) {
	config, _, _, _ := workflowDoc(t)
	dir, cfg := workflowTestDir(t, config)
	reportPath := filepath.Join(dir, "report.json")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	e := &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }, progressEvery: 0}
	done := make(chan int)
	go func() { done <- e.run(ctx, []string{"run", "--config", cfg, "--report", reportPath}) }()
	// Cancel at the first progress line: a step is mid-run.
	for !strings.Contains(stderr.String(), "run clean: ") {
		select {
		case code := <-done:
			t.Fatalf("finished before cancel: %d %s %s", code, stdout.String(), stderr.String())
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	code := <-done
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if code != 1 || lines[len(lines)-1] != "pcs: run cancelled: context canceled" {
		t.Fatalf("code %d, stderr %s", code, stderr.String())
	}
	b, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Status string `json:"status"`
		Steps  []struct{ Name, Status, Output string }
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"flights.parquet": true, "workflow.toml": true, "report.json": true}
	cancelled := 0
	for _, s := range rep.Steps {
		switch s.Status {
		case "succeeded":
			want[filepath.Base(s.Output)] = true
		case "cancelled":
			cancelled++
		default:
			t.Errorf("step %s %s", s.Name, s.Status)
		}
	}
	if rep.Status != "cancelled" || cancelled == 0 {
		t.Errorf("report %s", b)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !want[e.Name()] {
			t.Errorf("left %s", e.Name())
		}
		delete(want, e.Name())
	}
	if len(want) > 0 {
		t.Errorf("missing %v", want)
	}
}
