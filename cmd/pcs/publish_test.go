package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/transports/files"
)

// TestPublishText publishes CSV and JSON Lines files (detected by name,
// and by content for JSON Lines without a known extension) and checks
// that consume writes back the rows the file layer reads from them.
func TestPublishText(t *testing.T) {
	tb := startBroker(t)
	dir := t.TempDir()
	recs := makeRecords(t, 1000, 250)
	for i, name := range []string{"orders.csv", "orders.tsv", "orders.jsonl", "orders-json.log"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			opts := []files.Option{}
			if name == "orders-json.log" {
				opts = append(opts, files.WithFormat(files.JSONL))
			}
			sink, err := files.Create(path, recs[0].Schema(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			writeSink(t, sink, recs)

			subject := fmt.Sprintf("text%d.orders", i)
			tb.stream(t, fmt.Sprintf("TEXT%d", i), subject)
			r := mustPCS(t, "publish", "--server", tb.url, "-s", subject, "--batch-rows", "300", "-q", path)
			if parts, rows := parseSummary(t, r.stdout); parts != 4 || rows != 1000 {
				t.Fatalf("published %d partitions, %d rows; want 4, 1000:\n%v", parts, rows, r)
			}
			out := filepath.Join(t.TempDir(), "back.arrow")
			mustPCS(t, "consume", "--server", tb.url, "-s", subject, "-o", out)

			src, err := files.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			var want []arrow.RecordBatch
			for {
				rec, err := src.Read(t.Context())
				if err != nil {
					break
				}
				want = append(want, rec)
			}
			t.Cleanup(func() { release(want) })
			if numRows(want) != 1000 {
				t.Fatalf("the file layer read %d rows", numRows(want))
			}
			sameRows(t, want, readFile(t, out), -1)
		})
	}
}
