package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/apache/arrow-go/v18/arrow/util"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pcs-dev/pcs/transports/arrowfile"
)

// summary parses a publish or consume summary line: partitions and rows.
var summaryRE = regexp.MustCompile(`^(published|consumed) (\d+) partitions?, ([\d,]+) rows, `)

func parseSummary(t *testing.T, stdout string) (partitions, rows int64) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	m := summaryRE.FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		t.Fatalf("no summary line in %q", stdout)
	}
	partitions, _ = strconv.ParseInt(m[2], 10, 64)
	rows, _ = strconv.ParseInt(strings.ReplaceAll(m[3], ",", ""), 10, 64)
	return partitions, rows
}

func TestPublishConsumeRoundTrip(t *testing.T) {
	tb := startBroker(t)
	dir := t.TempDir()
	recs := makeRecords(t, 1000, 128)

	inputs := []struct {
		name string
		path string
	}{
		{"parquet", writeParquet(t, dir, "orders.parquet", recs)},
		{"arrow file", writeArrow(t, dir, "orders-file.arrow", arrowfile.FormatFile, recs)},
		{"arrow stream", writeArrow(t, dir, "orders-stream.arrows", arrowfile.FormatStream, recs)},
	}
	for i, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			subject := fmt.Sprintf("rt%d.orders", i)
			stream := fmt.Sprintf("RT%d", i)
			tb.stream(t, stream, fmt.Sprintf("rt%d.>", i))

			r := mustPCS(t, "publish", "--server", tb.url, "--subject", subject, "--batch-rows", "300", in.path)
			if parts, rows := parseSummary(t, r.stdout); parts != 4 || rows != 1000 {
				t.Fatalf("published %d partitions, %d rows; want 4, 1000:\n%v", parts, rows, r)
			}
			if r.stderr != "" {
				t.Errorf("stderr: %q", r.stderr)
			}
			if n := tb.msgs(t, stream); n != 4 {
				t.Fatalf("stream has %d messages, want 4", n)
			}

			for _, out := range []string{"back.parquet", "back.arrow", "back.arrows"} {
				path := filepath.Join(t.TempDir(), out)
				r := mustPCS(t, "consume", "--server", tb.url, "--subject", subject, "--out", path)
				if parts, rows := parseSummary(t, r.stdout); parts != 4 || rows != 1000 {
					t.Fatalf("%s: consumed %d partitions, %d rows; want 4, 1000:\n%v", out, parts, rows, r)
				}
				sameRows(t, recs, readFile(t, path), -1)
				// Atomic creation leaves no temporary file behind.
				if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
					t.Errorf("%s: directory holds %d entries, want 1", out, len(ents))
				}
			}
		})
	}
}

func TestPublishBatchRows(t *testing.T) {
	tb := startBroker(t)
	path := writeParquet(t, t.TempDir(), "rows.parquet", makeRecords(t, 1000, 1000))
	for i, n := range []int{1000, 5000, 999, 300, 128, 7} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			stream, subject := fmt.Sprintf("BR%d", i), fmt.Sprintf("br%d.x", i)
			tb.stream(t, stream, subject)
			r := mustPCS(t, "publish", "--server", tb.url, "-s", subject, "--batch-rows", strconv.Itoa(n), "-q", path)
			want := int64((1000 + n - 1) / n)
			if parts, _ := parseSummary(t, r.stdout); parts != want {
				t.Errorf("%d partitions, want ceil(1000/%d) = %d", parts, n, want)
			}
			if got := tb.msgs(t, stream); got != uint64(want) {
				t.Errorf("stream has %d messages, want %d", got, want)
			}
		})
	}
}

func TestPublishBatchBytes(t *testing.T) {
	tb := startBroker(t)
	recs := makeRecords(t, 1000, 1000)
	path := writeParquet(t, t.TempDir(), "bytes.parquet", recs)
	tb.stream(t, "BB", "bb.x")
	// ~36 bytes per row (8+8+8 fixed, 4 offset, ~10 string, bits): 4 KiB
	// holds about 110 rows, so 1000 rows need 9 or 10 partitions.
	r := mustPCS(t, "publish", "--server", tb.url, "-s", "bb.x", "--batch-bytes", "4KiB", path)
	parts, rows := parseSummary(t, r.stdout)
	if rows != 1000 || parts < 8 || parts > 12 {
		t.Fatalf("%d partitions, %d rows; want about 9 partitions of 1000 rows", parts, rows)
	}
	out := filepath.Join(t.TempDir(), "bytes.arrow")
	mustPCS(t, "consume", "--server", tb.url, "-s", "bb.x", "-o", out)
	sameRows(t, recs, readFile(t, out), -1)
}

func TestCutterLimits(t *testing.T) {
	recs := makeRecords(t, 1000, 64) // small input batches are merged
	per := float64(util.TotalRecordSize(recs[0])) / float64(recs[0].NumRows())
	for _, tc := range []struct {
		name               string
		rows, bytes        int64
		minParts, maxParts int
		maxRowsPerPart     int64
	}{
		{"rows", 300, 1 << 30, 4, 4, 300},
		{"one partition", 1 << 20, 1 << 30, 1, 1, 1000},
		// Buffer padding makes the bytes per row vary a little by batch.
		{"bytes", 1 << 20, int64(per * 250), 4, 5, 260},
		{"rows and bytes", 200, int64(per * 250), 5, 5, 200},
		{"one row above the byte limit", 10, 1, 1000, 1000, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var parts int
			var total int64
			c := &cutter{maxRows: tc.rows, maxBytes: tc.bytes}
			c.emit = func(group []arrow.RecordBatch) error {
				parts++
				n := numRows(group)
				total += n
				if n > tc.maxRowsPerPart || n == 0 {
					t.Errorf("partition %d has %d rows, want 1..%d", parts, n, tc.maxRowsPerPart)
				}
				return nil
			}
			for _, r := range recs {
				if err := c.push(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.flush(); err != nil {
				t.Fatal(err)
			}
			if parts < tc.minParts || parts > tc.maxParts || total != 1000 {
				t.Errorf("%d partitions with %d rows, want %d..%d with 1000", parts, total, tc.minParts, tc.maxParts)
			}
		})
	}
}

func TestPublishDeduplicates(t *testing.T) {
	tb := startBroker(t)
	dir := t.TempDir()
	path := writeParquet(t, dir, "dedup.parquet", makeRecords(t, 1000, 1000))
	tb.stream(t, "DEDUP", "dedup.>")
	args := []string{"publish", "--server", tb.url, "-s", "dedup.in", "--batch-rows", "250", path}
	mustPCS(t, args...)
	if n := tb.msgs(t, "DEDUP"); n != 4 {
		t.Fatalf("%d messages after the first publish, want 4", n)
	}
	r := mustPCS(t, args...)
	if n := tb.msgs(t, "DEDUP"); n != 4 {
		t.Fatalf("%d messages after publishing again, want 4 (deduplicated)", n)
	}
	if !strings.Contains(r.stdout, "4 were duplicates") {
		t.Errorf("summary does not report the duplicates: %q", r.stdout)
	}
	// The ids are "<base name>/<seq>".
	cons, err := tb.js.OrderedConsumer(context.Background(), "DEDUP", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if id := msg.Headers().Get("Nats-Msg-Id"); id != "dedup/1" {
		t.Errorf("first partition id %q, want dedup/1", id)
	}
	// Another source id is another producer: its partitions are new.
	mustPCS(t, "publish", "--server", tb.url, "-s", "dedup.in", "--batch-rows", "250", "--source-id", "other", path)
	if n := tb.msgs(t, "DEDUP"); n != 8 {
		t.Fatalf("%d messages after publishing with another source id, want 8", n)
	}
}

func TestConsumeLimit(t *testing.T) {
	tb := startBroker(t)
	recs := makeRecords(t, 1000, 1000)
	path := writeParquet(t, t.TempDir(), "limit.parquet", recs)
	tb.stream(t, "LIMIT", "limit.x")
	mustPCS(t, "publish", "--server", tb.url, "-s", "limit.x", "--batch-rows", "300", path)

	for _, limit := range []int64{1, 250, 300, 301, 999, 1000, 5000} {
		out := filepath.Join(t.TempDir(), "limit.parquet")
		r := mustPCS(t, "consume", "--server", tb.url, "-s", "limit.x", "--limit", strconv.FormatInt(limit, 10), "-o", out)
		want := min(limit, 1000)
		if _, rows := parseSummary(t, r.stdout); rows != want {
			t.Errorf("limit %d: consumed %d rows, want %d", limit, rows, want)
		}
		sameRows(t, recs, readFile(t, out), want)
	}
}

func TestConsumePreview(t *testing.T) {
	tb := startBroker(t)
	path := writeArrow(t, t.TempDir(), "preview.arrow", arrowfile.FormatFile, makeRecords(t, 100, 100))
	tb.stream(t, "PREVIEW", "preview.x")
	mustPCS(t, "publish", "--server", tb.url, "-s", "preview.x", "--batch-rows", "40", path)

	r := mustPCS(t, "consume", "--server", tb.url, "-s", "preview.x")
	out := r.stdout
	for _, want := range []string{
		"partition preview/1 (stream seq 1, 40 rows):",
		"partition preview/3 (stream seq 3, 20 rows):",
		"id  name        price  at",
		"name-00001",
		"null",
		"... 20 more rows",
		"consumed 3 partitions, 100 rows,",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("preview lacks %q:\n%s", want, out)
		}
	}
	// Columns are aligned: numbers to the right under their header.
	if !regexp.MustCompile(`(?m)^   0  name-00000      0  2026-11-03T08:00:00Z  true$`).MatchString(out) {
		t.Errorf("first row not aligned as expected:\n%s", out)
	}
	// 3 partitions x (header + 20 rows) are shown, not more.
	if n := strings.Count(out, "name-000"); n > 3*20 {
		t.Errorf("%d rows printed", n)
	}

	r = mustPCS(t, "consume", "--server", tb.url, "-s", "preview.x", "--limit", "5", "--preview-rows", "3")
	if !strings.Contains(r.stdout, "(stream seq 1, 5 rows)") || !strings.Contains(r.stdout, "... 2 more rows") ||
		!strings.Contains(r.stdout, "consumed 1 partition, 5 rows,") || !strings.Contains(r.stdout, "limit reached") {
		t.Errorf("limited preview:\n%s", r.stdout)
	}
}

func TestConsumeDurable(t *testing.T) {
	tb := startBroker(t)
	recs := makeRecords(t, 1000, 1000)
	path := writeParquet(t, t.TempDir(), "durable.parquet", recs)
	tb.stream(t, "DURABLE", "durable.x")
	mustPCS(t, "publish", "--server", tb.url, "-s", "durable.x", "--batch-rows", "300", path)
	dir := t.TempDir()
	consume := func(out string, extra ...string) (int64, int64) {
		t.Helper()
		args := append([]string{"consume", "--server", tb.url, "-s", "durable.x", "--durable", "arch", "-o", filepath.Join(dir, out)}, extra...)
		r := mustPCS(t, args...)
		return parseSummary(t, r.stdout)
	}

	// A limit in the middle of the second partition: the first is acked,
	// the cut one is delivered again, whole.
	if parts, rows := consume("a.parquet", "--limit", "400"); parts != 2 || rows != 400 {
		t.Fatalf("first run: %d partitions, %d rows; want 2, 400", parts, rows)
	}
	if parts, rows := consume("b.parquet"); parts != 3 || rows != 700 {
		t.Fatalf("second run: %d partitions, %d rows; want 3, 700", parts, rows)
	}
	sameRows(t, recs, readFile(t, filepath.Join(dir, "a.parquet")), 400)
	// The redelivered partition may come before or after the new ones.
	seen := map[int64]int{}
	for _, r := range readFile(t, filepath.Join(dir, "b.parquet")) {
		for _, id := range r.Column(0).(*array.Int64).Int64Values() {
			seen[id]++
		}
	}
	for id := int64(300); id < 1000; id++ {
		if seen[id] != 1 {
			t.Fatalf("second run: id %d seen %d times", id, seen[id])
		}
	}
	// Everything is acked now.
	r := pcs(context.Background(), "consume", "--server", tb.url, "-s", "durable.x", "--durable", "arch", "-o", filepath.Join(dir, "c.parquet"))
	if r.code != 0 || !strings.HasPrefix(r.stdout, "consumed 0 partitions, 0 rows,") {
		t.Fatalf("third run: %v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "c.parquet")); !os.IsNotExist(err) {
		t.Errorf("c.parquet created without rows: %v", err)
	}
	// The ordered default reads everything again and acks nothing.
	if parts, rows := parseSummary(t, mustPCS(t, "consume", "--server", tb.url, "-s", "durable.x").stdout); parts != 4 || rows != 1000 {
		t.Errorf("ordered consumer: %d partitions, %d rows; want 4, 1000", parts, rows)
	}
	// An existing durable with a small max_ack_pending: with --out the
	// acks wait for the complete file, so a run stops at the bound ...
	for _, name := range []string{"small", "small-preview"} {
		if _, err := tb.js.CreateConsumer(context.Background(), "DURABLE", jetstream.ConsumerConfig{
			Durable: name, FilterSubject: "durable.x", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 3,
		}); err != nil {
			t.Fatal(err)
		}
	}
	r = mustPCS(t, "consume", "--server", tb.url, "-s", "durable.x", "--durable", "small", "-o", filepath.Join(dir, "s1.arrow"))
	if parts, rows := parseSummary(t, r.stdout); parts != 3 || rows != 900 || !strings.Contains(r.stdout, "max_ack_pending (3 ") {
		t.Fatalf("run at max_ack_pending: %v", r)
	}
	r = mustPCS(t, "consume", "--server", tb.url, "-s", "durable.x", "--durable", "small", "-o", filepath.Join(dir, "s2.arrow"))
	if parts, rows := parseSummary(t, r.stdout); parts != 1 || rows != 100 {
		t.Fatalf("next run: %v", r)
	}
	// ... while the preview acks as it prints, and reads everything.
	r = mustPCS(t, "consume", "--server", tb.url, "-s", "durable.x", "--durable", "small-preview")
	if parts, rows := parseSummary(t, r.stdout); parts != 4 || rows != 1000 {
		t.Fatalf("preview through a small max_ack_pending: %v", r)
	}

	// A durable with another filter is refused.
	r = pcs(context.Background(), "consume", "--server", tb.url, "-s", "durable.>", "--durable", "arch")
	if r.code != 1 {
		t.Fatalf("durable with another filter: %v", r)
	}
	oneErrorLine(t, r, "arch", "durable.x")
}

func TestConsumeFollow(t *testing.T) {
	tb := startBroker(t)
	recs := makeRecords(t, 1000, 1000)
	path := writeParquet(t, t.TempDir(), "follow.parquet", recs)
	tb.stream(t, "FOLLOW", "follow.>")

	// --follow with --limit: waits for partitions, stops at the limit.
	done := make(chan result, 1)
	go func() {
		done <- pcs(context.Background(), "consume", "--server", tb.url, "-s", "follow.a", "--follow", "--limit", "500", "-o", filepath.Join(t.TempDir(), "a.arrows"))
	}()
	time.Sleep(200 * time.Millisecond) // the consumer waits on an empty subject
	mustPCS(t, "publish", "--server", tb.url, "-s", "follow.a", "--batch-rows", "300", path)
	select {
	case r := <-done:
		if _, rows := parseSummary(t, r.stdout); r.code != 0 || rows != 500 {
			t.Fatalf("follow with limit: %v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("consume --follow --limit did not stop")
	}

	// --follow until the context ends (SIGINT): a clean stop, exit 0,
	// the file complete, the partitions acked.
	// The same file to another subject of the same stream needs another
	// source id: JetStream deduplicates ids per stream.
	mustPCS(t, "publish", "--server", tb.url, "-s", "follow.b", "--batch-rows", "300", "--source-id", "follow-b", path)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := filepath.Join(t.TempDir(), "b.parquet")
	go func() {
		done <- pcs(ctx, "consume", "--server", tb.url, "-s", "follow.b", "--follow", "--durable", "fb", "-o", out)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cons, err := tb.js.Consumer(context.Background(), "FOLLOW", "fb")
		if err == nil {
			info, err := cons.Info(context.Background())
			if err == nil && info.NumPending == 0 && info.Delivered.Consumer == 4 {
				break
			}
		}
		select {
		case r := <-done:
			t.Fatalf("the follower stopped early: %v", r)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the follower did not receive the 4 partitions")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let it write the last one
	cancel()
	var parts, rows int64
	select {
	case r := <-done:
		parts, rows = parseSummary(t, r.stdout)
		if r.code != 0 || parts == 0 {
			t.Fatalf("follow until cancelled: %v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("consume --follow did not stop on cancel")
	}
	// The file is complete and its partitions acked: a catch-up run of the
	// durable reads the rest, if the cancel came before the last one.
	got := readFile(t, out)
	if numRows(got) != rows {
		t.Fatalf("%s has %d rows, the summary says %d", out, numRows(got), rows)
	}
	if parts < 4 {
		t.Logf("cancelled after %d partitions", parts)
		rest := filepath.Join(t.TempDir(), "rest.parquet")
		r := mustPCS(t, "consume", "--server", tb.url, "-s", "follow.b", "--durable", "fb", "-o", rest)
		if p, _ := parseSummary(t, r.stdout); p+parts != 4 {
			t.Fatalf("catch-up run: %v", r)
		}
		got = append(got, readFile(t, rest)...)
	}
	sameRows(t, recs, got, -1)
	cons, err := tb.js.Consumer(context.Background(), "FOLLOW", "fb")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.AckFloor.Stream == 0 {
		t.Errorf("after the follower stopped: %d partitions not acked, ack floor %d", info.NumAckPending, info.AckFloor.Stream)
	}
}

func TestClaimCheck(t *testing.T) {
	tb := startBroker(t)
	recs := makeRecords(t, 40000, 40000) // ~1.4 MiB of Arrow data
	path := writeParquet(t, t.TempDir(), "big.parquet", recs)
	tb.stream(t, "BIG", "big.x")
	r := mustPCS(t, "publish", "--server", tb.url, "-s", "big.x", "--batch-rows", "100000", "--batch-bytes", "8MiB", "--object-bucket", "test-claims", path)
	if parts, rows := parseSummary(t, r.stdout); parts != 1 || rows != 40000 || !strings.Contains(r.stdout, `1 via object store "test-claims"`) {
		t.Fatalf("publish above max_payload: %v", r)
	}
	if _, err := tb.js.ObjectStore(context.Background(), "test-claims"); err != nil {
		t.Fatalf("object store bucket: %v", err)
	}
	out := filepath.Join(t.TempDir(), "big.arrow")
	mustPCS(t, "consume", "--server", tb.url, "-s", "big.x", "-o", out)
	sameRows(t, recs, readFile(t, out), -1)

	// Compressed, the same rows fit inline.
	tb.stream(t, "BIGZ", "bigz.x")
	r = mustPCS(t, "publish", "--server", tb.url, "-s", "bigz.x", "--batch-rows", "100000", "--batch-bytes", "8MiB", "--compression", "zstd", path)
	if strings.Contains(r.stdout, "object store") {
		t.Errorf("zstd partition went to the object store: %s", r.stdout)
	}
	out = filepath.Join(t.TempDir(), "bigz.parquet")
	mustPCS(t, "consume", "--server", tb.url, "-s", "bigz.x", "-o", out)
	sameRows(t, recs, readFile(t, out), -1)
}

func TestServerFromEnvironment(t *testing.T) {
	tb := startBroker(t)
	path := writeParquet(t, t.TempDir(), "env.parquet", makeRecords(t, 10, 10))
	tb.stream(t, "ENV", "env.x")
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"PCS_SERVER", map[string]string{"PCS_SERVER": tb.url, "NATS_URL": "nats://127.0.0.1:1"}},
		{"NATS_URL", map[string]string{"NATS_URL": tb.url}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pcsEnv(context.Background(), func(k string) string { return tc.env[k] }, "publish", "-s", "env.x", path)
			if r.code != 0 {
				t.Fatal(r)
			}
		})
	}
	// Without either, the default server is tried (and named).
	r := pcsEnv(context.Background(), func(string) string { return "" }, "consume", "--help")
	if !strings.Contains(r.stdout, `(default "nats://127.0.0.1:4222")`) {
		t.Errorf("help does not show the default server:\n%s", r.stdout)
	}
}

// TestVersion: pcs version and pcs --version print the module path and
// version from the build info, one line.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := pcs(context.Background(), args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "github.com/pcs-dev/pcs ") || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("pcs %v: exit %d, stdout %q", args, r.code, r.stdout)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	file := writeParquet(t, dir, "u.parquet", makeRecords(t, 10, 10))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "missing command"},
		{"unknown command", []string{"publsh"}, `did you mean "publish"`},
		{"unknown flag", []string{"publish", "--bogus", "-s", "a", file}, "unknown flag: --bogus (see 'pcs publish --help')"},
		{"unknown root flag", []string{"--bogus"}, "unknown flag: --bogus (see 'pcs --help')"},
		{"missing subject", []string{"publish", file}, "missing --subject"},
		{"no files", []string{"publish", "-s", "a.b"}, "no input files"},
		{"wildcard publish", []string{"publish", "-s", "a.*", file}, "wildcard"},
		{"bad batch rows", []string{"publish", "-s", "a", "--batch-rows", "0", file}, "--batch-rows"},
		{"batch rows not a number", []string{"publish", "-s", "a", "--batch-rows", "many", file}, "--batch-rows"},
		{"bad batch bytes", []string{"publish", "-s", "a", "--batch-bytes", "lots", file}, "bad size"},
		{"bad compression", []string{"publish", "-s", "a", "--compression", "gzip", file}, "--compression"},
		{"bad source id", []string{"publish", "-s", "a", "--source-id", "a,b", file}, "--source-id"},
		{"bad bucket", []string{"publish", "-s", "a", "--object-bucket", "a.b", file}, "--object-bucket"},
		{"same source id", []string{"publish", "-s", "a", file, file}, "--source-id"},
		{"consume missing subject", []string{"consume"}, "missing --subject"},
		{"consume argument", []string{"consume", "-s", "a", "out.parquet"}, "--out"},
		{"consume bad out", []string{"consume", "-s", "a", "-o", "out.txt"}, ".parquet"},
		{"consume negative limit", []string{"consume", "-s", "a", "--limit", "-1"}, "--limit"},
		{"consume bad durable", []string{"consume", "-s", "a", "--durable", "a.b"}, "--durable"},
		{"broker bad listen", []string{"broker", "--listen", "4222"}, "--listen"},
		{"broker bad payload", []string{"broker", "--store", dir, "--max-payload", "1GiB"}, "max_payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pcs(context.Background(), tc.args...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want 2: %v", r.code, r)
			}
			oneErrorLine(t, r, tc.want)
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
		})
	}
}

func TestFailures(t *testing.T) {
	tb := startBroker(t)
	dir := t.TempDir()
	file := writeParquet(t, dir, "f.parquet", makeRecords(t, 10, 10))
	notData := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notData, []byte("just some text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tb.stream(t, "FAIL", "fail.x")

	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "nats://" + l.Addr().String()
	l.Close()

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"missing file", []string{"publish", "--server", tb.url, "-s", "fail.x", filepath.Join(dir, "nope.parquet")}, []string{"nope.parquet", "no such file"}},
		{"not Parquet or Arrow", []string{"publish", "--server", tb.url, "-s", "fail.x", notData}, []string{"notes.txt", "neither Parquet nor Arrow"}},
		{"no stream for subject", []string{"publish", "--server", tb.url, "-s", "nostream.x", file}, []string{`no JetStream stream captures subject "nostream.x"`, "pcs-node"}},
		{"consume no stream", []string{"consume", "--server", tb.url, "-s", "nostream.x"}, []string{`no JetStream stream captures subject "nostream.x"`}},
		{"unreachable server", []string{"publish", "--server", dead, "-s", "fail.x", file}, []string{"cannot connect", dead}},
		{"consume unreachable server", []string{"consume", "--server", dead, "-s", "fail.x"}, []string{"cannot connect", dead}},
		{"broker store locked", []string{"broker", "--store", tb.b.Config().StoreDir, "--listen", "127.0.0.1:0"}, []string{"store dir is in use"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pcs(context.Background(), tc.args...)
			if r.code != exitFailure {
				t.Fatalf("exit %d, want 1: %v", r.code, r)
			}
			if tc.args[0] == "broker" {
				// The broker logs to stderr too; the error is the last line.
				lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
				r.stderr = lines[len(lines)-1] + "\n"
			}
			oneErrorLine(t, r, tc.want...)
		})
	}
}

func TestBrokerCommand(t *testing.T) {
	store := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan result, 1)
	go func() {
		done <- pcsTo(ctx, func(string) string { return "" }, &stdout, &stderr,
			"broker", "--store", store, "--listen", "127.0.0.1:0", "--sync-always", "--max-payload", "2MiB")
	}()

	// The log names the client URL.
	var url string
	deadline := time.Now().Add(20 * time.Second)
	for url == "" {
		for _, line := range strings.Split(stderr.String(), "\n") {
			var rec struct {
				Msg, URL string
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "broker ready" {
				url = rec.URL
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"broker ready\" log line: %q", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	if mp := nc.MaxPayload(); mp != 2<<20 {
		t.Errorf("max payload %d, want 2 MiB", mp)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "B", Subjects: []string{"b.x"}}); err != nil {
		t.Fatal(err)
	}
	path := writeParquet(t, t.TempDir(), "b.parquet", makeRecords(t, 100, 100))
	mustPCS(t, "publish", "--server", url, "-s", "b.x", path)
	nc.Close()

	cancel()
	select {
	case r := <-done:
		if r.code != 0 {
			t.Fatalf("broker: %v", r)
		}
		if !strings.Contains(r.stderr, `"broker stopped"`) {
			t.Errorf("no shutdown log: %q", r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("broker did not stop")
	}
	// The store holds the stream: a new broker on it recovers it.
	if _, err := os.Stat(filepath.Join(store, "jetstream")); err != nil {
		t.Error(err)
	}
}

// flightsPath is the shared real data set, relative to this directory.
const flightsPath = "../../../shared/data/flights-200k.arrow"

func TestFlights(t *testing.T) {
	if _, err := os.Stat(flightsPath); err != nil {
		t.Skipf("real data not available: %v", err)
	}
	tb := startBroker(t)
	tb.stream(t, "FLIGHTS", "flights.>")
	r := mustPCS(t, "publish", "--server", tb.url, "-s", "flights.raw", flightsPath)
	parts, rows := parseSummary(t, r.stdout)
	t.Logf("%s", strings.TrimSpace(r.stdout))
	if rows != 200000 || parts != 4 { // ceil(200000 / 65536)
		t.Fatalf("published %d partitions, %d rows; want 4, 200000", parts, rows)
	}
	out := filepath.Join(t.TempDir(), "flights.parquet")
	r = mustPCS(t, "consume", "--server", tb.url, "-s", "flights.raw", "-o", out)
	t.Logf("%s", strings.TrimSpace(r.stdout))
	if parts, rows := parseSummary(t, r.stdout); parts != 4 || rows != 200000 {
		t.Fatalf("consumed %d partitions, %d rows; want 4, 200000", parts, rows)
	}
	got := readFile(t, out)
	if n := numRows(got); n != 200000 {
		t.Fatalf("%s has %d rows, want 200000", out, n)
	}
	sameRows(t, readFile(t, flightsPath), got, -1)
}

func TestPublishSeveralFiles(t *testing.T) {
	tb := startBroker(t)
	dir := t.TempDir()
	a := makeRecords(t, 1000, 1000)
	b := makeRecords(t, 500, 100)
	pa := writeParquet(t, dir, "a.parquet", a)
	pb := writeArrow(t, dir, "b.ipc", arrowfile.FormatFile, b)
	ids := func(stream string) []string {
		t.Helper()
		cons, err := tb.js.OrderedConsumer(context.Background(), stream, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for range tb.msgs(t, stream) {
			msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, msg.Headers().Get("Nats-Msg-Id"))
		}
		return out
	}

	// Each file has its own source id: its base name.
	tb.stream(t, "MULTI", "multi.x")
	mustPCS(t, "publish", "--server", tb.url, "-s", "multi.x", "--batch-rows", "300", pa, pb)
	if got, want := strings.Join(ids("MULTI"), " "), "a/1 a/2 a/3 a/4 b/1 b/2"; got != want {
		t.Errorf("ids %q, want %q", got, want)
	}
	// --source-id: one sequence across the files.
	tb.stream(t, "MULTI2", "multi2.x")
	mustPCS(t, "publish", "--server", tb.url, "-s", "multi2.x", "--batch-rows", "300", "--source-id", "both", pa, pb)
	if got, want := strings.Join(ids("MULTI2"), " "), "both/1 both/2 both/3 both/4 both/5 both/6"; got != want {
		t.Errorf("ids %q, want %q", got, want)
	}
	out := filepath.Join(t.TempDir(), "both.parquet")
	r := mustPCS(t, "consume", "--server", tb.url, "-s", "multi2.x", "-o", out)
	if parts, rows := parseSummary(t, r.stdout); parts != 6 || rows != 1500 {
		t.Fatalf("consumed %d partitions, %d rows; want 6, 1500", parts, rows)
	}
	sameRows(t, append(append([]arrow.RecordBatch{}, a...), b...), readFile(t, out), -1)
}

func TestProgressLines(t *testing.T) {
	tb := startBroker(t)
	path := writeParquet(t, t.TempDir(), "p.parquet", makeRecords(t, 1000, 1000))
	tb.stream(t, "PROG", "prog.>")
	run := func(args ...string) result {
		var stdout, stderr syncBuffer
		e := &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }} // a line per update
		code := e.run(context.Background(), args)
		return result{code, stdout.String(), stderr.String()}
	}
	r := run("publish", "--server", tb.url, "-s", "prog.a", "--batch-rows", "100", path)
	if r.code != 0 || !regexp.MustCompile(`(?m)^publish: [\d,]+ rows, [\d.]+ [KM]?i?B, [\d,]+ rows/s, `).MatchString(r.stderr) {
		t.Fatalf("no progress lines: %v", r)
	}
	if strings.Contains(r.stdout, "publish:") {
		t.Errorf("progress on stdout: %q", r.stdout)
	}
	r = run("consume", "--server", tb.url, "-s", "prog.a", "-o", filepath.Join(t.TempDir(), "p.arrow"))
	if r.code != 0 || !strings.Contains(r.stderr, "consume: ") {
		t.Fatalf("no consume progress: %v", r)
	}
	r = run("publish", "--server", tb.url, "-s", "prog.b", "--batch-rows", "100", "--quiet", path)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("--quiet: %v", r)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":          "nats://127.0.0.1:4222",
		"nats://u:secret@h:4222":         "nats://u:xxxxx@h:4222",
		"nats://a:1,nats://u:secret@b:2": "nats://a:1,nats://u:xxxxx@b:2",
		"nats://s3cret-token@h:4222":     "nats://xxxxx@h:4222",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDefaultBatchBytesStaysInline: with the defaults, partitions fit the
// default 1 MiB max_payload and nothing goes to the object store.
func TestDefaultBatchBytesStaysInline(t *testing.T) {
	tb := startBroker(t)
	recs := makeRecords(t, 40000, 40000) // ~1.4 MiB of Arrow data
	path := writeParquet(t, t.TempDir(), "inline.parquet", recs)
	tb.stream(t, "INL", "inl.x")
	r := mustPCS(t, "publish", "--server", tb.url, "-s", "inl.x", path)
	if parts, rows := parseSummary(t, r.stdout); parts < 2 || rows != 40000 || strings.Contains(r.stdout, "object store") {
		t.Fatalf("default publish: %v", r)
	}
}
