package arrowfile_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/arrowfile"
)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
}, nil)

var baseTime = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// makeBatch returns rows [start, start+n) of the test data, with nulls
// at different periods per column.
func makeBatch(mem memory.Allocator, start, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	for r := start; r < start+n; r++ {
		b.Field(0).(*array.Int64Builder).Append(r)
		if r%11 == 10 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Float64Builder).Append(float64(r) / 4)
		}
		if r%5 == 4 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("row-%d", r))
		}
		if r%3 == 2 {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.BooleanBuilder).Append(r%2 == 0)
		}
		if r%13 == 12 {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(baseTime.Add(time.Duration(r) * time.Second).UnixMicro()))
		}
		lb := b.Field(5).(*array.ListBuilder)
		if r%7 == 6 {
			lb.AppendNull()
		} else {
			lb.Append(true)
			for k := int64(0); k < r%3; k++ {
				lb.ValueBuilder().(*array.StringBuilder).Append(fmt.Sprintf("t%d", k))
			}
		}
	}
	return b.NewRecordBatch()
}

// writeBatches writes batches of the given sizes (consecutive rows) and
// closes the sink.
func writeBatches(t *testing.T, sink transports.Sink, sizes ...int64) {
	t.Helper()
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var start int64
	for _, n := range sizes {
		rec := makeBatch(mem, start, n)
		err := sink.Write(ctx, rec)
		rec.Release()
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		start += n
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// readAll reads src to io.EOF and returns the batches (caller releases).
func readAll(t *testing.T, src transports.Source) []arrow.RecordBatch {
	t.Helper()
	var out []arrow.RecordBatch
	for {
		rec, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			if rec != nil {
				t.Fatal("batch returned with io.EOF")
			}
			return out
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		out = append(out, rec)
	}
}

// checkBatches compares got with freshly generated batches of the given
// sizes and releases got.
func checkBatches(t *testing.T, got []arrow.RecordBatch, sizes ...int64) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	defer func() {
		for _, r := range got {
			r.Release()
		}
	}()
	if len(got) != len(sizes) {
		t.Fatalf("%d batches, want %d", len(got), len(sizes))
	}
	var start int64
	for i, n := range sizes {
		want := makeBatch(mem, start, n)
		ok := array.RecordEqual(got[i], want)
		want.Release()
		if !ok {
			t.Fatalf("batch %d (rows %d..%d) differs", i, start, start+n)
		}
		start += n
	}
}

func TestRoundTrip(t *testing.T) {
	sizes := []int64{1000, 1, 2500, 777}
	for _, format := range []arrowfile.Format{arrowfile.FormatFile, arrowfile.FormatStream} {
		for _, codec := range []arrowfile.Codec{arrowfile.CodecNone, arrowfile.CodecLZ4, arrowfile.CodecZstd} {
			t.Run(format.String()+"/"+string(codec), func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				path := filepath.Join(t.TempDir(), "rt.arrow")
				sink, err := arrowfile.NewSink(path, testSchema, arrowfile.WithFormat(format),
					arrowfile.WithCompression(codec), arrowfile.WithAllocator(mem))
				if err != nil {
					t.Fatal(err)
				}
				writeBatches(t, sink, sizes...)

				src, err := arrowfile.NewSource(path, arrowfile.WithAllocator(mem))
				if err != nil {
					t.Fatal(err)
				}
				if src.Format() != format {
					t.Fatalf("detected %v, wrote %v", src.Format(), format)
				}
				if want := map[arrowfile.Format]int{arrowfile.FormatFile: 4, arrowfile.FormatStream: -1}[format]; src.NumBatches() != want {
					t.Fatalf("NumBatches = %d, want %d", src.NumBatches(), want)
				}
				if !src.Schema().Equal(testSchema) {
					t.Fatalf("schema:\n%s", src.Schema())
				}
				got := readAll(t, src)
				// Batches stay valid after Close.
				if err := src.Close(); err != nil {
					t.Fatal(err)
				}
				checkBatches(t, got, sizes...)
			})
		}
	}
}

// TestFileDecodeDoesNotCopy checks that reading an uncompressed file
// allocates no column buffers: they point into the file's bytes.
func TestFileDecodeDoesNotCopy(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "zc.arrow")
	sink, err := arrowfile.NewSink(path, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	writeBatches(t, sink, 5000, 5000)

	src, err := arrowfile.NewSource(path, arrowfile.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, src)
	if n := mem.CurrentAlloc(); n != 0 {
		t.Errorf("reading an uncompressed file allocated %d bytes from the allocator, want 0", n)
	}
	src.Close()
	checkBatches(t, got, 5000, 5000)

	// A stream is read into allocated buffers.
	spath := filepath.Join(t.TempDir(), "zc.arrows")
	sink, err = arrowfile.NewSink(spath, testSchema, arrowfile.WithFormat(arrowfile.FormatStream))
	if err != nil {
		t.Fatal(err)
	}
	writeBatches(t, sink, 5000)
	src, err = arrowfile.NewSource(spath, arrowfile.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	got = readAll(t, src)
	if mem.CurrentAlloc() == 0 {
		t.Errorf("stream batches allocated nothing: allocator not used")
	}
	src.Close()
	checkBatches(t, got, 5000)
}

func TestDictionaryColumn(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}
	sc := arrow.NewSchema([]arrow.Field{{Name: "origin", Type: dt, Nullable: true}}, nil)
	for _, format := range []arrowfile.Format{arrowfile.FormatFile, arrowfile.FormatStream} {
		t.Run(format.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dict")
			sink, err := arrowfile.NewSink(path, sc, arrowfile.WithFormat(format), arrowfile.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			b := array.NewRecordBuilder(mem, sc)
			db := b.Field(0).(*array.BinaryDictionaryBuilder)
			for _, v := range []string{"SEA", "SFO", "SEA", "", "JFK"} {
				if v == "" {
					db.AppendNull()
				} else if err := db.AppendString(v); err != nil {
					t.Fatal(err)
				}
			}
			rec := b.NewRecordBatch()
			b.Release()
			defer rec.Release()
			if err := sink.Write(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			if err := sink.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			src, err := arrowfile.NewSource(path, arrowfile.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got := readAll(t, src)
			if len(got) != 1 || !array.RecordEqual(got[0], rec) {
				t.Fatalf("dictionary batch differs: %v", got)
			}
			got[0].Release()
		})
	}
}

func TestEmpty(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	for _, format := range []arrowfile.Format{arrowfile.FormatFile, arrowfile.FormatStream} {
		t.Run(format.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "empty")
			sink, err := arrowfile.NewSink(path, testSchema, arrowfile.WithFormat(format), arrowfile.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			empty := makeBatch(mem, 0, 0)
			err = sink.Write(ctx, empty)
			empty.Release()
			if err != nil {
				t.Fatalf("empty batch: %v", err)
			}
			if err := sink.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := sink.Close(ctx); err != nil {
				t.Fatal(err)
			}
			src, err := arrowfile.NewSource(path, arrowfile.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if src.Format() != format || !src.Schema().Equal(testSchema) {
				t.Fatalf("format %v, schema %s", src.Format(), src.Schema())
			}
			for i := 0; i < 3; i++ {
				if rec, err := src.Read(ctx); !errors.Is(err, io.EOF) || rec != nil {
					t.Fatalf("read %d of an empty file: %v, %v", i, rec, err)
				}
			}
		})
	}
}

func TestEOFAndClose(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	for _, format := range []arrowfile.Format{arrowfile.FormatFile, arrowfile.FormatStream} {
		t.Run(format.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "eof")
			sink, err := arrowfile.NewSink(path, testSchema, arrowfile.WithFormat(format), arrowfile.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			writeBatches(t, sink, 10)
			src, err := arrowfile.NewSource(path, arrowfile.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			rec, err := src.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if _, err := src.Read(ctx); !errors.Is(err, io.EOF) {
					t.Fatalf("read %d after the end: %v", i, err)
				}
			}
			if err := src.Close(); err != nil {
				t.Fatal(err)
			}
			if err := src.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if _, err := src.Read(ctx); !errors.Is(err, arrowfile.ErrClosed) {
				t.Fatalf("Read after Close: %v", err)
			}
			checkBatches(t, []arrow.RecordBatch{rec}, 10)
		})
	}
}

func TestSchemaMismatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mm.arrow")
	sink, err := arrowfile.NewSink(path, testSchema, arrowfile.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	other := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, other)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	bad := b.NewRecordBatch()
	b.Release()
	defer bad.Release()
	err = sink.Write(ctx, bad)
	if !errors.Is(err, transports.ErrSchemaMismatch) {
		t.Fatalf("err = %v, want ErrSchemaMismatch", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "fields: 1") || !strings.Contains(msg, "fields: 6") {
		t.Fatalf("error does not show both schemas: %s", msg)
	}
	writeBatches(t, sink, 3) // still usable
	if err := sink.Write(ctx, bad); !errors.Is(err, arrowfile.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	src, err := arrowfile.NewSource(path, arrowfile.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	checkBatches(t, readAll(t, src), 3)
}

func TestContextCancel(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	ctx := context.Background()
	dir := t.TempDir()

	for _, format := range []arrowfile.Format{arrowfile.FormatFile, arrowfile.FormatStream} {
		t.Run(format.String(), func(t *testing.T) {
			path := filepath.Join(dir, "ctx-"+format.String())
			sink, err := arrowfile.NewSink(path, testSchema, arrowfile.WithFormat(format), arrowfile.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			rec := makeBatch(mem, 0, 20)
			defer rec.Release()
			if err := sink.Write(cancelled, rec); !errors.Is(err, context.Canceled) {
				t.Fatalf("Write: %v", err)
			}
			if err := sink.Flush(cancelled); !errors.Is(err, context.Canceled) {
				t.Fatalf("Flush: %v", err)
			}
			if err := sink.Write(ctx, rec); err != nil {
				t.Fatal(err)
			}
			if err := sink.Close(ctx); err != nil {
				t.Fatal(err)
			}
			src, err := arrowfile.NewSource(path, arrowfile.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := src.Read(cancelled); !errors.Is(err, context.Canceled) {
				t.Fatalf("Read: %v", err)
			}
			checkBatches(t, readAll(t, src), 20)
			src.Close()

			// Close with a cancelled context abandons the file.
			path2 := path + "-abandoned"
			sink2, err := arrowfile.NewSink(path2, testSchema, arrowfile.WithFormat(format), arrowfile.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			if err := sink2.Write(ctx, rec); err != nil {
				t.Fatal(err)
			}
			if err := sink2.Close(cancelled); !errors.Is(err, context.Canceled) {
				t.Fatalf("Close: %v", err)
			}
			if _, err := os.Stat(path2); !os.IsNotExist(err) {
				t.Fatalf("abandoned file exists: %v", err)
			}
		})
	}
}

// TestStreamReadableAfterFlush checks that a flushed stream can be read
// while the sink is still open.
func TestStreamReadableAfterFlush(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "live.arrows")
	sink, err := arrowfile.NewSink(path, testSchema, arrowfile.WithFormat(arrowfile.FormatStream), arrowfile.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	rec := makeBatch(mem, 0, 100)
	if err := sink.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if err := sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	src, err := arrowfile.NewSource(path, arrowfile.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	checkBatches(t, readAll(t, src), 100)
	src.Close()
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestNotArrow(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"empty":          nil,
		"text":           []byte("delay,distance\n1,2\n"),
		"short":          []byte("AR"),
		"magic-only":     []byte("ARROW1\x00\x00"),
		"truncated-file": append([]byte("ARROW1\x00\x00"), make([]byte, 64)...),
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := arrowfile.NewSource(path)
		if !errors.Is(err, arrowfile.ErrNotArrow) {
			if src != nil {
				src.Close()
			}
			t.Errorf("%s: err = %v, want ErrNotArrow", name, err)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
	if _, err := arrowfile.NewSource(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := arrowfile.NewSink(filepath.Join(dir, "x"), testSchema, arrowfile.WithCompression("snappy")); !errors.Is(err, arrowfile.ErrInvalidOption) {
		t.Errorf("unknown codec: %v", err)
	}
	if _, err := arrowfile.NewSink(filepath.Join(dir, "x"), testSchema, arrowfile.WithFormat(7)); !errors.Is(err, arrowfile.ErrInvalidOption) {
		t.Errorf("unknown format: %v", err)
	}
	if _, err := arrowfile.NewSink(filepath.Join(dir, "x"), nil); !errors.Is(err, arrowfile.ErrInvalidOption) {
		t.Errorf("nil schema: %v", err)
	}
	if _, err := arrowfile.NewSource(filepath.Join(dir, "text"), arrowfile.WithAllocator(nil)); !errors.Is(err, arrowfile.ErrInvalidOption) {
		t.Errorf("nil allocator: %v", err)
	}
}

// TestTruncatedStream checks that a stream cut in the middle of a batch
// is an error, not a silent short read.
func TestTruncatedStream(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "cut.arrows")
	sink, err := arrowfile.NewSink(path, testSchema, arrowfile.WithFormat(arrowfile.FormatStream))
	if err != nil {
		t.Fatal(err)
	}
	writeBatches(t, sink, 100, 100)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data[:len(data)-200], 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := arrowfile.NewSource(path, arrowfile.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rec, err := src.Read(context.Background())
	if err != nil {
		t.Fatalf("first batch: %v", err)
	}
	rec.Release()
	if _, err := src.Read(context.Background()); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("truncated second batch: err = %v, want a decode error", err)
	}
	if _, err := src.Read(context.Background()); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("error is not sticky: %v", err)
	}
}
