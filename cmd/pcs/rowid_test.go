package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/pcs-dev/pcs/transports/arrowfile"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// TestPublishRowID publishes a Parquet file and an Arrow file with
// --row-id: every partition carries the column, last, int64 and not
// nullable, and the ids are the rows' positions across batches,
// partitions and files, in input order.
func TestPublishRowID(t *testing.T) {
	tb := startBroker(t)
	tb.stream(t, "RID", "rid.>")
	dir := t.TempDir()
	a := makeRecords(t, 1000, 300) // batches of 300 cut into partitions of 128
	b := makeRecords(t, 250, 100)
	pa := writeParquet(t, dir, "a.parquet", a)
	pb := writeArrow(t, dir, "b.arrows", arrowfile.FormatStream, b)

	r := mustPCS(t, "publish", "--server", tb.url, "-s", "rid.x", "--batch-rows", "128", "--row-id", "row_id", "-q", pa, pb)
	if parts, rows := parseSummary(t, r.stdout); parts != 8+2 || rows != 1250 {
		t.Fatalf("published %d partitions, %d rows; want 10, 1250", parts, rows)
	}
	out := filepath.Join(t.TempDir(), "back.arrow")
	mustPCS(t, "consume", "--server", tb.url, "-s", "rid.x", "-o", out)
	got := concat(t, readFile(t, out))
	schema := got.Schema()
	last := schema.Field(schema.NumFields() - 1)
	if last.Name != "row_id" || !arrow.TypeEqual(last.Type, arrow.PrimitiveTypes.Int64) || last.Nullable {
		t.Fatalf("last field %v, want row_id int64 not null; schema %v", last, schema)
	}
	ids := got.Column(schema.NumFields() - 1).(*array.Int64)
	for i := 0; i < ids.Len(); i++ {
		if ids.Value(i) != int64(i) || ids.IsNull(i) {
			t.Fatalf("row %d has id %d", i, ids.Value(i))
		}
	}
	if ids.Len() != 1250 {
		t.Fatalf("%d rows", ids.Len())
	}
	// The other columns are untouched.
	want := concat(t, append(append([]arrow.RecordBatch{}, a...), b...))
	for j := 0; j < int(want.NumCols()); j++ {
		if !array.Equal(want.Column(j), got.Column(j)) {
			t.Errorf("column %q differs", want.ColumnName(j))
		}
	}

	ctx := context.Background()
	// A column of that name already in the input: a failure, nothing of
	// that file published.
	r = pcs(ctx, "publish", "--server", tb.url, "-s", "rid.y", "--row-id", "price", pa)
	if r.code != 1 {
		t.Fatalf("existing column: %v", r)
	}
	oneErrorLine(t, r, "a.parquet", `--row-id "price": the input already has a column of that name`)
	if n := tb.msgs(t, "RID"); n != 10 {
		t.Errorf("stream has %d messages, want 10", n)
	}
	r = pcs(ctx, "publish", "--server", tb.url, "-s", "rid.y", "--row-id", " id", pa)
	if r.code != 2 {
		t.Fatalf("bad name: %v", r)
	}
	oneErrorLine(t, r, `--row-id " id"`)
}

// TestPublishEndOfInput: --end-of-input adds a last, empty partition
// (same schema, the next id) whose Pcs-Watermark is the final watermark.
func TestPublishEndOfInput(t *testing.T) {
	tb := startBroker(t)
	tb.stream(t, "EOI", "eoi.>")
	dir := t.TempDir()
	pa := writeParquet(t, dir, "a.parquet", makeRecords(t, 300, 300))
	r := mustPCS(t, "publish", "--server", tb.url, "-s", "eoi.x", "--batch-rows", "128", "--end-of-input", "-q", pa)
	if parts, rows := parseSummary(t, r.stdout); parts != 4 || rows != 300 {
		t.Fatalf("published %d partitions, %d rows; want 4 (3 + the end), 300", parts, rows)
	}
	s, err := tb.js.Stream(context.Background(), "EOI")
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.GetMsg(context.Background(), 4)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := natsjs.ParseMeta(last.Header)
	if err != nil {
		t.Fatal(err)
	}
	if meta.ID != "a/4" || meta.Rows != 0 || meta.Watermark.Year() != 9999 {
		t.Errorf("last partition %+v, want id a/4, 0 rows, watermark in 9999", meta)
	}
}
