package avro_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hamba/avro/v2/ocf"

	"github.com/pcs-dev/pcs/transports/avro"
)

const testSchema = `{"type": "record", "name": "flight", "fields": [
	{"name": "i", "type": "int"},
	{"name": "l", "type": "long"},
	{"name": "d", "type": "double"},
	{"name": "s", "type": "string"},
	{"name": "n", "type": ["null", "long"]},
	{"name": "ns", "type": ["null", "string"]},
	{"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}}
]}`

type row struct {
	I  int32     `avro:"i"`
	L  int64     `avro:"l"`
	D  float64   `avro:"d"`
	S  string    `avro:"s"`
	N  *int64    `avro:"n"`
	NS *string   `avro:"ns"`
	T  time.Time `avro:"t"`
}

var t0 = time.Date(2024, 3, 1, 12, 30, 0, 0, time.UTC)

func makeRow(i int) row {
	r := row{I: int32(i - 500), L: int64(i) << 33, D: float64(i) / 4, S: "s" + strings.Repeat("x", i%5), T: t0.Add(time.Duration(i) * time.Second)}
	if i%3 != 0 {
		n := int64(-i)
		r.N = &n
	}
	if i%4 != 0 {
		s := "v" + string(rune('a'+i%26))
		r.NS = &s
	}
	return r
}

// writeFile writes n rows with hamba/avro's OCF encoder (deflate blocks
// of 100 rows).
func writeFile(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := ocf.NewEncoder(testSchema, f, ocf.WithCodec(ocf.Deflate), ocf.WithBlockLength(100))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := enc.Encode(makeRow(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReadHamba(t *testing.T) {
	const n = 1234
	path := filepath.Join(t.TempDir(), "flights.avro")
	writeFile(t, path, n)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	src, err := avro.NewSource(path, avro.WithAllocator(mem), avro.WithBatchRows(500))
	if err != nil {
		t.Fatal(err)
	}
	want := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int32},
		{Name: "l", Type: arrow.PrimitiveTypes.Int64},
		{Name: "d", Type: arrow.PrimitiveTypes.Float64},
		{Name: "s", Type: arrow.BinaryTypes.String},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "ns", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	}, nil)
	got := src.Schema()
	if got.NumFields() != want.NumFields() {
		t.Fatalf("schema %s, want %s", got, want)
	}
	for i, f := range want.Fields() {
		g := got.Field(i)
		if g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) || g.Nullable != f.Nullable {
			t.Errorf("field %d: %s, want %s", i, g, f)
		}
	}

	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for {
		rec, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.NumRows() > 500 {
			t.Errorf("batch of %d rows, want at most 500", rec.NumRows())
		}
		recs = append(recs, rec)
	}
	if _, err := src.Read(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("Read after the end: %v, want io.EOF", err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := src.Read(context.Background()); !errors.Is(err, avro.ErrClosed) {
		t.Errorf("Read after Close: %v, want ErrClosed", err)
	}

	i := 0
	for _, rec := range recs {
		c := rec.Columns()
		for r := 0; r < int(rec.NumRows()); r, i = r+1, i+1 {
			w := makeRow(i)
			if v := c[0].(*array.Int32).Value(r); v != w.I {
				t.Fatalf("row %d i = %d, want %d", i, v, w.I)
			}
			if v := c[1].(*array.Int64).Value(r); v != w.L {
				t.Fatalf("row %d l = %d, want %d", i, v, w.L)
			}
			if v := c[2].(*array.Float64).Value(r); v != w.D {
				t.Fatalf("row %d d = %v, want %v", i, v, w.D)
			}
			if v := c[3].(*array.String).Value(r); v != w.S {
				t.Fatalf("row %d s = %q, want %q", i, v, w.S)
			}
			if null := c[4].IsNull(r); null != (w.N == nil) || (!null && c[4].(*array.Int64).Value(r) != *w.N) {
				t.Fatalf("row %d n = %v, want %v", i, c[4].ValueStr(r), w.N)
			}
			if null := c[5].IsNull(r); null != (w.NS == nil) || (!null && c[5].(*array.String).Value(r) != *w.NS) {
				t.Fatalf("row %d ns = %v, want %v", i, c[5].ValueStr(r), w.NS)
			}
			if v := c[6].(*array.Timestamp).Value(r); int64(v) != w.T.UnixMilli() {
				t.Fatalf("row %d t = %d, want %d", i, v, w.T.UnixMilli())
			}
		}
	}
	if i != n {
		t.Errorf("%d rows, want %d", i, n)
	}
}

func TestErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	notAvro := filepath.Join(dir, "text.avro")
	if err := os.WriteFile(notAvro, []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := avro.NewSource(notAvro)
	if !errors.Is(err, avro.ErrNotAvro) || !strings.Contains(err.Error(), notAvro) {
		t.Errorf("not avro: %v, want ErrNotAvro naming %s", err, notAvro)
	}

	if _, err := avro.NewSource(filepath.Join(dir, "missing.avro")); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.avro") {
		t.Errorf("missing: %v", err)
	}

	// A file cut in its data blocks: the read that meets the cut fails,
	// naming the file.
	good := filepath.Join(dir, "good.avro")
	writeFile(t, good, 1000)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.avro")
	if err := os.WriteFile(cut, data[:len(data)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := avro.NewSource(cut)
	if err != nil {
		if !strings.Contains(err.Error(), cut) {
			t.Errorf("NewSource(cut): %v does not name the file", err)
		}
		return
	}
	defer src.Close()
	for {
		rec, err := src.Read(context.Background())
		if err == nil {
			rec.Release()
			continue
		}
		if errors.Is(err, io.EOF) {
			t.Fatalf("a cut file read to io.EOF")
		}
		if !strings.Contains(err.Error(), cut) {
			t.Errorf("Read: %v does not name the file", err)
		}
		break
	}
}
