package local_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pcs-dev/pcs/local"

	"github.com/pcs-dev/pcs/plan"
)

const windowTOML = `
[[pipeline]]
name = "w"
input = { files = ["DIR/in*.csv"], component = "reading" }
output = { file = "DIR/out.csv" }

[[pipeline.component]]
name = "reading"
fields = ["ts: int64", "sensor: string", "v: int64"]

[[pipeline.system]]
use = "filter"
options = { component = "reading", expression = "v > 0" }

[[pipeline.system]]
use = "window"
options = { time = "ts", time_unit = "ms", window = "tumbling(2s)", keys = ["sensor"], aggregates = ["sum(v) as total", "count(*) as n"], out_of_orderness = "1s" }
`

// TestRunLocalWindow: the tumbling case through a TOML pipeline
// (timestamps 1000..5500 step 500, values 10..100 step 10, windows of
// 2000 ms: 0 -> 30, 2000 -> 180, 4000 -> 340), split over two files, plus
// a row too late for its window, which lands in the late file.
func TestRunLocalWindow(t *testing.T) {
	dir := t.TempDir()
	// Sensor "a": the rows, then in a later batch a row (ts 100)
	// too late for window 0.
	in := "ts,sensor,v\n"
	for i := 0; i < 10; i++ {
		in += itoa64(1000+500*int64(i)) + ",a," + itoa64(10*int64(i+1)) + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "in1.csv"), []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	// A second batch: the watermark is 5500 - 1000 after the first.
	if err := os.WriteFile(filepath.Join(dir, "in2.csv"), []byte("ts,sensor,v\n100,a,1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := plan.ParseFile("w.toml", []byte(strings.ReplaceAll(windowTOML, "DIR", dir)))
	if err != nil {
		t.Fatal(err)
	}
	reg := plan.DefaultRegistry()
	st, err := local.Run(context.Background(), cfg.Pipelines, reg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st[0].RowsIn != 11 || st[0].Files != 2 || st[0].RowsOut != 3 || st[0].LateRows != 1 {
		t.Errorf("stats %+v", st[0])
	}
	got, err := os.ReadFile(filepath.Join(dir, "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := "sensor,window_start,window_end,total,n,is_update\n" +
		"a,1970-01-01 00:00:00Z,1970-01-01 00:00:02Z,30,2,false\n" +
		"a,1970-01-01 00:00:02Z,1970-01-01 00:00:04Z,180,4,false\n" +
		"a,1970-01-01 00:00:04Z,1970-01-01 00:00:06Z,340,4,false\n"
	if string(got) != want {
		t.Errorf("out.csv:\n%s\nwant\n%s", got, want)
	}
	late, err := os.ReadFile(filepath.Join(dir, "out.late.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if string(late) != "ts,sensor,v\n100,a,1000\n" {
		t.Errorf("out.late.csv:\n%s", late)
	}
}

func TestWindowConfigErrors(t *testing.T) {
	reg := plan.DefaultRegistry()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in1.csv"), []byte("ts,sensor,v\n1,a,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := strings.ReplaceAll(windowTOML, "DIR", dir)
	for _, tc := range []struct{ name, from, to, want string }{
		{"unknown column", `time = "ts"`, `time = "when"`, `"when"`},
		{"bad window", `tumbling(2s)`, `tumbling(-2s)`, `tumbling`},
		{"bad aggregate", `sum(v) as total`, `median(v)`, `median`},
		{"not last", "[[pipeline.system]]\nuse = \"filter\"", "[[pipeline.system]]\nuse = \"window\"\noptions = {}\n\n[[pipeline.system]]\nuse = \"filter\"", "must be the pipeline's last"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(base, tc.from, tc.to, 1)
			if src == base {
				t.Fatalf("%q not in the config", tc.from)
			}
			cfg, err := plan.ParseFile("w.toml", []byte(src))
			if err == nil {
				_, err = local.Run(context.Background(), cfg.Pipelines, reg, nil, nil)
			}
			if !errors.Is(err, plan.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrConfig containing %q", err, tc.want)
			}
		})
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// TestRunLocalSessionRowsGapApart: devices reporting every 30 s with
// session(30s) give one session per device (rows exactly gap apart are one
// session, as in Flink), across three input files.
func TestRunLocalSessionRowsGapApart(t *testing.T) {
	dir := t.TempDir()
	for f := 0; f < 3; f++ {
		in := "ts,device,v\n"
		for i := 7 * f; i < 7*(f+1); i++ {
			for _, d := range []string{"d1", "d2"} {
				in += itoa64(int64(30*i)) + "," + d + ",1\n"
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "in"+itoa64(int64(f))+".csv"), []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const toml = `
[[pipeline]]
name = "s"
input = { files = ["DIR/in*.csv"], component = "reading" }
output = { file = "DIR/out.csv" }

[[pipeline.component]]
name = "reading"
fields = ["ts: int64", "device: string", "v: int64"]

[[pipeline.system]]
use = "window"
options = { time = "ts", time_unit = "s", window = "session(30s)", keys = ["device"], aggregates = ["count(*) as n"] }
`
	cfg, err := plan.ParseFile("s.toml", []byte(strings.ReplaceAll(toml, "DIR", dir)))
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
	want := "device,window_start,window_end,n,is_update\n" +
		"d1,1970-01-01 00:00:00Z,1970-01-01 00:10:30Z,21,false\n" +
		"d2,1970-01-01 00:00:00Z,1970-01-01 00:10:30Z,21,false\n"
	if string(got) != want {
		t.Errorf("out.csv:\n%s\nwant\n%s", got, want)
	}
}
