package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go"

	"github.com/pcs-dev/pcs/node"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/arrowfile"
)

const (
	cliDoc       = "../../docs/cli.md"
	flightsSlice = "../../examples/flights/testdata/flights-50k.parquet"
	sharedData   = "../../../shared/data"
)

// docExample is one example command of docs/cli.md: a line of a ```sh
// block, or a line starting with "$ " in any block, with the lines
// after it up to the next "$ " line or the block's end (its output).
type docExample struct {
	line   string
	output []string
}

func cliDocExamples(t *testing.T) []docExample {
	t.Helper()
	f, err := os.Open(cliDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docExample
	inBlock, sh, cur := false, false, -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "```"):
			inBlock, sh, cur = !inBlock, l == "```sh", -1
		case !inBlock:
		case l == "" && cur < 0:
		case sh:
			out = append(out, docExample{line: l})
		case strings.HasPrefix(l, "$ "):
			out = append(out, docExample{line: strings.TrimPrefix(l, "$ ")})
			cur = len(out) - 1
		case cur >= 0:
			out[cur].output = append(out[cur].output, l)
		}
	}
	for i := range out { // outputs end at their last non-blank line
		for len(out[i].output) > 0 && out[i].output[len(out[i].output)-1] == "" {
			out[i].output = out[i].output[:len(out[i].output)-1]
		}
	}
	return out
}

// docRun is the environment of one doc example: the working directory
// holds the files the examples name, $PCS_SERVER points at the broker.
type docRun struct {
	t      *testing.T
	dir    string
	server string
}

// pcs runs a doc command line verbatim (after "A=b" prefixes, which
// become the environment) in the working directory; the part after
// " | " (jq) is returned for the caller to apply.
func (d docRun) pcs(ctx context.Context, line string, repl ...string) (result, string) {
	d.t.Helper()
	line = strings.NewReplacer(repl...).Replace(line)
	cmd, pipe, _ := strings.Cut(line, " | ")
	env := map[string]string{"PCS_SERVER": d.server}
	args := strings.Fields(cmd)
	for len(args) > 0 && strings.Contains(args[0], "=") {
		k, v, _ := strings.Cut(args[0], "=")
		env[k] = v
		d.t.Setenv(k, v) // pcs run expands ${VAR} in the config from the process environment
		args = args[1:]
	}
	if len(args) == 0 || args[0] != "pcs" {
		d.t.Fatalf("not a pcs command: %q", line)
	}
	return pcsEnv(ctx, func(k string) string { return env[k] }, args[1:]...), pipe
}

func (d docRun) ok(line string, repl ...string) (result, string) {
	d.t.Helper()
	r, pipe := d.pcs(context.Background(), line, repl...)
	if r.code != 0 {
		d.t.Fatalf("%s: %v", line, r)
	}
	return r, pipe
}

func matches(t *testing.T, what, got string, res ...string) {
	t.Helper()
	for _, re := range res {
		if !regexp.MustCompile(re).MatchString(got) {
			t.Errorf("%s lacks %s:\n%s", what, re, got)
		}
	}
}

// flightsNode runs pcs-node's flights pipeline (examples/flights/node.toml
// with the test broker instead of the embedded one) in-process.
func flightsNode(t *testing.T, url string) {
	t.Helper()
	src, err := os.ReadFile("../../examples/flights/node.toml")
	if err != nil {
		t.Fatal(err)
	}
	broker := regexp.MustCompile(`(?m)^store_dir = .*\nlisten = .*$`)
	if !broker.Match(src) {
		t.Fatal("examples/flights/node.toml: no [broker] store_dir and listen lines to replace")
	}
	src = broker.ReplaceAll(src, []byte(`url = "`+url+`"`))
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "testdata"), 0o755)
	copyFile(t, "../../examples/flights/testdata/airports.csv", filepath.Join(dir, "testdata", "airports.csv"))
	path := filepath.Join(dir, "node.toml")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PCS_HTTP", "127.0.0.1:0")
	cfg, err := node.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(context.Background(), cfg, plan.DefaultRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := n.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// drained waits until the node took every partition of its input work queue.
func drained(t *testing.T, tb *testBroker) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for tb.msgs(t, "PCS_FLIGHTS_IN") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the node did not process its input within 60s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCLIDocExamples runs every example command of docs/cli.md, verbatim
// where it can, against real files and an in-process broker and pcs-node
// (the flights pipeline of examples/flights/node.toml), and checks the
// output the doc shows. A doc example without a case here fails the test,
// so does a case without its doc example. Where a command cannot run as
// written, the case says why and what it runs instead.
func TestCLIDocExamples(t *testing.T) {
	docs := cliDocExamples(t)
	outputs := map[string][]string{}
	for _, e := range docs {
		if len(e.output) > 0 || outputs[e.line] == nil {
			outputs[e.line] = e.output // a command shown with its output and also in a ```sh list
		}
	}
	big := filepath.Join(sharedData, "flights-3m.parquet")
	haveBig := fileExists(big)
	src, _ := filepath.Abs(flightsSlice)
	nodeToml, _ := filepath.Abs("../../examples/flights/node.toml")
	bigAbs, _ := filepath.Abs(big)
	stocksAbs, _ := filepath.Abs(filepath.Join(sharedData, "stocks.csv"))

	// The flights environment: files where the examples name them (the
	// 50k slice stands in for data/flights-3m.parquet: publishing 3M rows
	// through a node is make interop's job), the broker in $PCS_SERVER,
	// pcs-node running the flights pipeline.
	tb := startBroker(t)
	flightsNode(t, tb.url)
	dir := t.TempDir()
	t.Chdir(dir)
	os.Mkdir("data", 0o755)
	copyFile(t, src, "data/flights-3m.parquet")
	all := concat(t, readFile(t, src))
	half := all.NumRows() / 2
	jan, feb := all.NewSlice(0, half), all.NewSlice(half, all.NumRows())
	defer jan.Release()
	defer feb.Release()
	writeArrow(t, dir, "jan.arrow", arrowfile.FormatFile, []arrow.RecordBatch{jan})
	writeArrow(t, dir, "feb.arrow", arrowfile.FormatFile, []arrow.RecordBatch{feb})
	d := docRun{t: t, dir: dir, server: tb.url}
	var published int64
	// A node with a catalog (pipeline p) for the status examples; it has
	// processed one partition.
	var statusAddr string
	parent := t
	statusNode := func(t *testing.T) string {
		if statusAddr == "" {
			_, statusAddr = startNode(parent, tb.url) // stops when the whole test ends
			path := writeParquet(t, t.TempDir(), "p.parquet", makeRecords(t, 10, 10))
			mustPCS(t, "publish", "--server", tb.url, "-s", "in.p", "--row-id", "rid", "-q", path)
			for deadline := time.Now().Add(30 * time.Second); tb.msgs(t, "PCS_P_IN") != 0; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("pipeline p did not process its partition")
				}
			}
		}
		return statusAddr
	}

	cases := []struct {
		line string
		run  func(t *testing.T, line string)
	}{
		{"pcs publish --subject flights.raw data/flights-3m.parquet", func(t *testing.T, line string) {
			r, _ := d.ok(line)
			_, rows := parseSummary(t, r.stdout)
			published += rows
		}},
		{"pcs publish --subject flights.raw --batch-rows 100000 --compression zstd jan.arrow feb.arrow", func(t *testing.T, line string) {
			r, _ := d.ok(line)
			_, rows := parseSummary(t, r.stdout)
			published += rows
			drained(t, tb)
		}},
		{"pcs publish --subject flights.raw --row-id row_id data/flights-3m.parquet", func(t *testing.T, line string) {
			// On the node's flights.raw it would republish flights-3m/1..
			// (duplicates, dropped); run on a plain stream of another
			// broker to see the row ids.
			tb2 := startBroker(t)
			tb2.stream(t, "RAW", "flights.raw")
			d2 := docRun{t: t, dir: dir, server: tb2.url}
			d2.ok(line)
			d2.ok("pcs consume --subject flights.raw --out rowid.arrow")
			recs := readFile(t, "rowid.arrow")
			var want int64
			for _, r := range recs {
				ids := r.Column(int(r.NumCols()) - 1)
				if r.ColumnName(int(r.NumCols())-1) != "row_id" {
					t.Fatalf("last column %q, want row_id", r.ColumnName(int(r.NumCols())-1))
				}
				for i := 0; i < ids.Len(); i++ {
					if got := ids.GetOneForMarshal(i).(int64); got != want {
						t.Fatalf("row_id %d at row %d", got, want)
					}
					want++
				}
			}
		}},
		{"pcs consume --subject flights.enriched --limit 3 --preview-rows 5", func(t *testing.T, line string) {
			r, _ := d.ok(line)
			// The doc's rows are those of this run (the slice is the head of flights-3m).
			got := strings.Split(r.stdout, "\n")
			for i, want := range outputs[line] {
				if strings.HasPrefix(want, "consumed ") {
					matches(t, "summary", r.stdout, `(?m)^consumed 1 partition, 3 rows, [\d.]+ [KM]iB from flights\.enriched in \S+ \([\d,]+ rows/s\); limit reached$`)
					continue
				}
				if i >= len(got) || got[i] != want {
					t.Errorf("line %d: doc %q, pcs printed:\n%s", i+1, want, r.stdout)
					break
				}
			}
		}},
		{"pcs consume --subject flights.enriched --out enriched.parquet", func(t *testing.T, line string) {
			r, _ := d.ok(line)
			if _, rows := parseSummary(t, r.stdout); rows != published {
				t.Fatalf("consumed %d rows, published %d (every flight passes the filter)", rows, published)
			}
			if n := numRows(readFile(t, "enriched.parquet")); n != published {
				t.Fatalf("enriched.parquet: %d rows", n)
			}
		}},
		{"pcs consume --subject flights.enriched --durable billing --out billing.csv", func(t *testing.T, line string) {
			for run, want := range []int64{published, 0} { // the second run continues where the first stopped
				r, _ := d.ok(line)
				if _, rows := parseSummary(t, r.stdout); rows != want {
					t.Fatalf("run %d: %d rows, want %d", run+1, rows, want)
				}
			}
		}},
		{"pcs consume --subject flights.enriched --follow --durable archiver --out flights.arrows", func(t *testing.T, line string) {
			// --follow runs until SIGINT: the test cancels its context
			// (what main's signal.NotifyContext does on SIGINT) once the
			// durable has delivered everything.
			// once pcs has written every row (its progress lines say so).
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan result, 1)
			go func() {
				e := &env{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return map[string]string{"PCS_SERVER": tb.url}[k] },
					progressEvery: 0} // a progress line per partition
				code := e.run(ctx, strings.Fields(line)[1:])
				done <- result{code: code, stdout: stdout.String(), stderr: stderr.String()}
			}()
			want := regexp.MustCompile(`(?m)^consume: ` + regexp.QuoteMeta(commas(published)) + ` rows`)
			for deadline := time.Now().Add(30 * time.Second); !want.MatchString(stderr.String()); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no progress line %s in 30s: %s", want, stderr.String())
				}
			}
			cancel()
			r := <-done
			if r.code != 0 {
				t.Fatalf("%s: %v", line, r)
			}
			if n := numRows(readFile(t, "flights.arrows")); n != published {
				t.Fatalf("flights.arrows: %d rows, want %d", n, published)
			}
		}},
		{"pcs consume --subject flights.raw", func(t *testing.T, line string) {
			r, _ := d.pcs(context.Background(), line)
			if r.code != 1 || strings.TrimSpace(r.stderr) != strings.Join(outputs[line], "\n") {
				t.Fatalf("doc says %q\n%v", outputs[line], r)
			}
		}},
		{"pcs consume --subject flights.dlq", func(t *testing.T, line string) {
			r, _ := d.pcs(context.Background(), line)
			if r.code == 0 || strings.TrimSpace(r.stderr) != strings.Join(outputs[line], "\n") {
				t.Fatalf("doc says %q\n%v", outputs[line], r)
			}
		}},
		{"pcs dlq list --pipeline flights", func(t *testing.T, line string) {
			// The doc's dead letter: a file whose delay is a string.
			d.ok("pcs publish --subject flights.raw --quiet " + writeBadFlights(t, dir))
			waitDead(t, tb, 1)
			r, _ := d.ok(line)
			out := outputs[line]
			if len(out) != 3 {
				t.Log(r.stdout)
				t.Fatalf("doc output of %q: %d lines, want header, one dead letter, footer", line, len(out))
			}
			got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if len(got) != 3 || strings.Fields(got[0])[0] != "SEQ" || strings.Join(strings.Fields(got[0]), " ") != strings.Join(strings.Fields(out[0]), " ") || got[2] != out[2] {
				t.Fatalf("doc:\n%s\npcs:\n%s", strings.Join(out, "\n"), r.stdout)
			}
			dw, gw := strings.Fields(out[1]), strings.Fields(got[1])
			for _, i := range []int{0, 1, 2, 6} { // seq, id, reason, subject; not the time and size
				if dw[i] != gw[i] {
					t.Log(r.stdout)
					t.Errorf("field %d: doc %q, pcs %q", i, dw[i], gw[i])
				}
			}
		}},
		{"pcs dlq show --pipeline flights 1", func(t *testing.T, line string) {
			r, _ := d.ok(line)
			matches(t, "show", r.stdout, `Pcs-Error-Reason: schema`, `body: \d+ rows`)
		}},
		{"pcs dlq replay --pipeline flights 1", func(t *testing.T, line string) {
			r, _ := d.ok(line)
			matches(t, "replay", r.stdout, `(?m)^replayed 1 as bad-flights/1\.r1 to flights\.raw$`)
			waitDead(t, tb, 1) // not fixed: dead-lettered again, as its replay
		}},
		{"pcs dlq purge --pipeline flights --all", func(t *testing.T, line string) {
			r, _ := d.ok(line)
			if r.stdout != "purged 1 dead letter from PCS_FLIGHTS_IN_DLQ\n" {
				t.Fatalf("purge: %v", r)
			}
		}},
		{"pcs inspect flights-3m.parquet", func(t *testing.T, line string) {
			if !haveBig {
				t.Skipf("needs %s (the doc shows its report)", big)
			}
			r, _ := d.ok(line, "flights-3m.parquet", bigAbs)
			want := outputs[line]
			want = want[:len(want)-1] // "..."
			got := strings.Split(r.stdout, "\n")
			got[0] = "file:       flights-3m.parquet"
			for i, w := range want {
				if i >= len(got) || got[i] != w {
					t.Fatalf("line %d: doc %q, pcs %q", i+1, w, got[min(i, len(got)-1)])
				}
			}
		}},
		{"pcs inspect --json flights-3m.parquet | jq '.row_groups[] | .rows'", func(t *testing.T, line string) {
			// jq is applied here, in Go; the 50k slice when flights-3m is absent.
			file := "data/flights-3m.parquet"
			if haveBig {
				file = bigAbs
			}
			r, pipe := d.ok(line, "flights-3m.parquet", file)
			if pipe != "jq '.row_groups[] | .rows'" {
				t.Fatalf("pipe %q", pipe)
			}
			var rep struct {
				Rows      int64 `json:"rows"`
				RowGroups []struct {
					Rows int64 `json:"rows"`
				} `json:"row_groups"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatal(err)
			}
			var sum int64
			for _, g := range rep.RowGroups {
				sum += g.Rows
			}
			if len(rep.RowGroups) == 0 || sum != rep.Rows {
				t.Fatalf("row groups %v, rows %d", rep.RowGroups, rep.Rows)
			}
		}},
		{"pcs inspect stocks.csv", func(t *testing.T, line string) {
			if !fileExists(stocksAbs) {
				t.Skipf("needs %s", stocksAbs)
			}
			copyFile(t, stocksAbs, "stocks.csv")
			r, _ := d.ok(line)
			matches(t, "inspect", r.stdout, `(?m)^format: +csv$`, `(?m)^rows: +[\d,]+$`)
		}},
		{"pcs broker --store /var/lib/pcs/broker --listen 0.0.0.0:4222 --sync-always --token-file /etc/pcs/nats-token", func(t *testing.T, line string) {
			// Runs until SIGINT, on a fixed port and system paths: the
			// test gives it a temporary store and token file and port 0
			// (same interface), waits for "broker ready", connects with
			// the token, then cancels (SIGINT).
			tok := filepath.Join(dir, "nats-token")
			os.WriteFile(tok, []byte("s3cret\n"), 0o600)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan result, 1)
			args := strings.Fields(strings.NewReplacer("/var/lib/pcs/broker", filepath.Join(dir, "store"), "0.0.0.0:4222", "0.0.0.0:0", "/etc/pcs/nats-token", tok).Replace(line))
			go func() { done <- pcsTo(ctx, func(string) string { return "" }, &stdout, &stderr, args[1:]...) }()
			var ready map[string]any
			for deadline := time.Now().Add(20 * time.Second); ready == nil; time.Sleep(10 * time.Millisecond) {
				for _, l := range strings.Split(stderr.String(), "\n") {
					var rec map[string]any
					if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "broker ready" {
						ready = rec
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("no broker ready line: %s", stderr.String())
				}
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(outputs[line][0]), &doc); err != nil {
				t.Fatalf("doc log line: %v", err)
			}
			for k := range doc {
				if _, ok := ready[k]; !ok {
					t.Errorf("log line lacks %q: %v", k, ready)
				}
			}
			url := strings.Replace(ready["url"].(string), "0.0.0.0", "127.0.0.1", 1)
			if nc, err := nats.Connect(url, nats.Token("s3cret")); err != nil {
				t.Errorf("connect with the token: %v", err)
			} else {
				nc.Close()
			}
			if nc, err := nats.Connect(url); err == nil {
				nc.Close()
				t.Error("connected without the token")
			}
			cancel()
			if r := <-done; r.code != 0 {
				t.Fatalf("broker: %v", r)
			}
		}},
		{"PCS_FLIGHTS=../../../shared/data/flights-3m.parquet pcs run --config examples/flights/node.toml", func(t *testing.T, line string) {
			// The paths resolve against the config's directory: a copy of
			// the repository's layout, with the 50k slice as flights-3m
			// when ../shared is absent (the doc shows the 3M-row figures).
			root := filepath.Join(dir, "repo")
			os.MkdirAll(filepath.Join(root, "main/examples/flights/testdata"), 0o755)
			os.MkdirAll(filepath.Join(root, "shared/data"), 0o755)
			copyFile(t, nodeToml, filepath.Join(root, "main/examples/flights/node.toml"))
			t.Chdir(filepath.Join(root, "main"))
			copyFile(t, filepath.Join(dir, "data/flights-3m.parquet"), filepath.Join(root, "shared/data/flights-3m.parquet"))
			if haveBig {
				os.Remove(filepath.Join(root, "shared/data/flights-3m.parquet"))
				os.Symlink(bigAbs, filepath.Join(root, "shared/data/flights-3m.parquet"))
			}
			copyFile(t, filepath.Join(filepath.Dir(src), "airports.csv"), filepath.Join(root, "main/examples/flights/testdata/airports.csv"))
			r, _ := d.ok(line)
			matches(t, "run", r.stdout, `(?m)^flights: 1 file\(s\), [\d,]+ rows in, [\d,]+ rows out to examples/flights/enriched\.parquet in \S+ \([\d,]+ rows/s\)$`)
			if !fileExists(filepath.Join(root, "main/examples/flights/enriched.parquet")) {
				t.Error("no examples/flights/enriched.parquet")
			}
		}},
		{"pcs status --url http://127.0.0.1:44299", func(t *testing.T, line string) {
			// The doc's node is one of make demo-fleet's: the test asks a
			// node of its own, with a catalog.
			r, _ := d.ok(line, "127.0.0.1:44299", statusNode(t))
			for _, w := range outputs[line] {
				if strings.HasPrefix(w, "NODE ") || strings.HasPrefix(w, "PIPELINE ") {
					matches(t, "status", r.stdout, `(?m)^`+strings.Join(strings.Fields(w), " +")+`$`)
				}
			}
			matches(t, "status", r.stdout, `(?m)^node: +st1 \(status at `, `(?m)^leader: +st1 `, `(?m)^voters: +st1$`)
		}},
		{"pcs status --url http://10.0.0.2:9464 --json | jq '.catalog.pipelines[] | {name, done: .counters.done}'", func(t *testing.T, line string) {
			// A node of the test's own; jq applied here, in Go.
			r, _ := d.ok(line, "10.0.0.2:9464", statusNode(t))
			var st struct {
				Catalog struct {
					Pipelines []struct {
						Name     string `json:"name"`
						Counters struct {
							Done *int64 `json:"done"`
						} `json:"counters"`
					} `json:"pipelines"`
				} `json:"catalog"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
				t.Fatal(err)
			}
			if len(st.Catalog.Pipelines) == 0 || st.Catalog.Pipelines[0].Name != "p" || st.Catalog.Pipelines[0].Counters.Done == nil {
				t.Fatalf("no .catalog.pipelines[].{name, counters.done}: %s", r.stdout)
			}
		}},
	}

	known := map[string]bool{}
	for _, c := range cases {
		known[c.line] = true
		if _, ok := outputs[c.line]; !ok {
			t.Errorf("case %q is not an example of docs/cli.md (any more)", c.line)
		}
	}
	for _, e := range docs {
		if !known[e.line] {
			t.Errorf("docs/cli.md example %q has no case in TestCLIDocExamples", e.line)
		}
	}
	for _, c := range cases {
		if _, ok := outputs[c.line]; !ok {
			continue
		}
		t.Run(c.line, func(t *testing.T) {
			d.t = t
			c.run(t, c.line)
		})
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// commas writes n as pcs does: 100,000.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// waitDead waits until the flights dead-letter stream holds n messages.
func waitDead(t *testing.T, tb *testBroker, n uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := tb.js.Stream(context.Background(), "PCS_FLIGHTS_IN_DLQ")
		if err == nil {
			if info, err := s.Info(context.Background()); err == nil && info.State.Msgs == n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("PCS_FLIGHTS_IN_DLQ does not hold %d dead letters after 30s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeBadFlights writes bad-flights.parquet: 100 flights whose delay is
// a string, which the flights pipeline's input component refuses.
func writeBadFlights(t *testing.T, dir string) string {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "date", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "delay", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "distance", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "origin", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "destination", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := 0; i < 100; i++ {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(978307200000000 + int64(i)*60_000_000))
		b.Field(1).(*array.StringBuilder).Append(strconv.Itoa(i%60) + " min") // no cast to int64 reads "12 min"
		b.Field(2).(*array.Int64Builder).Append(int64(200 + i))
		b.Field(3).(*array.LargeStringBuilder).Append("LAS")
		b.Field(4).(*array.LargeStringBuilder).Append("PHL")
	}
	rec := b.NewRecordBatch()
	t.Cleanup(rec.Release)
	return writeParquet(t, dir, "bad-flights.parquet", []arrow.RecordBatch{rec})
}
