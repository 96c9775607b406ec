package arrowfile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/arrowfile"
)

var dictSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "city", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	{Name: "code", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint16, ValueType: arrow.PrimitiveTypes.Int64}, Nullable: true},
}, nil)

// cityBatch builds rows first.. with the given cities ("" null) and
// codes len(city) (null for null cities); each batch's dictionaries hold
// its own values in first-seen order.
func cityBatch(t *testing.T, mem memory.Allocator, first int64, cities ...string) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(mem, dictSchema)
	defer b.Release()
	for i, c := range cities {
		b.Field(0).(*array.Int64Builder).Append(first + int64(i))
		cb := b.Field(1).(*array.BinaryDictionaryBuilder)
		kb := b.Field(2).(*array.Int64DictionaryBuilder)
		if c == "" {
			cb.AppendNull()
			kb.AppendNull()
			continue
		}
		if err := cb.AppendString(c); err != nil {
			t.Fatal(err)
		}
		if err := kb.Append(int64(len(c))); err != nil {
			t.Fatal(err)
		}
	}
	return b.NewRecordBatch()
}

// decoded renders rows as "id city code", dictionaries by value.
func decoded(recs []arrow.RecordBatch) string {
	var b strings.Builder
	for _, r := range recs {
		for i := 0; i < int(r.NumRows()); i++ {
			fmt.Fprintf(&b, "%d", r.Column(0).(*array.Int64).Value(i))
			for _, c := range r.Columns()[1:] {
				d := c.(*array.Dictionary)
				if d.IsNull(i) {
					b.WriteString(" null")
				} else {
					b.WriteString(" " + d.Dictionary().ValueStr(d.GetValueIndex(i)))
				}
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// TestDictionaryUnified writes batches whose dictionaries differ to the
// file format: the file holds one dictionary per column (what the format
// allows, so that every reader reads it), written before the first
// batch (so even a stream reader reads the file's embedded stream), and
// the rows read back equal those written.
func TestDictionaryUnified(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	for _, atomic := range []bool{false, true} {
		t.Run(fmt.Sprintf("atomic=%v", atomic), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "cities.arrow")
			sink, err := arrowfile.NewSink(path, dictSchema, arrowfile.WithAllocator(mem), arrowfile.WithAtomicRename(atomic))
			if err != nil {
				t.Fatal(err)
			}
			in := []arrow.RecordBatch{
				cityBatch(t, mem, 0, "Seattle", "Denver", "Seattle", ""),
				cityBatch(t, mem, 4, "Boston", "Seattle", "Austin"),
				cityBatch(t, mem, 7, "", ""),
				cityBatch(t, mem, 9, "Denver", "Boston", "Miami", "Denver"),
			}
			// A slice: its indices start at an offset.
			whole := cityBatch(t, mem, 13, "Reno", "Tulsa", "", "Omaha", "Reno")
			in = append(in, whole.NewSlice(1, 5))
			whole.Release()
			defer release(in)
			for _, r := range in {
				if err := sink.Write(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			if err := sink.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Fatalf("directory holds %v, want the file only (no spool)", ents)
			}

			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fr, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			if n := fr.NumDictionaries(); n != 2 {
				t.Errorf("the file holds %d dictionary batches, want 2 (one per column)", n)
			}
			if n := fr.NumRecords(); n != len(in) {
				t.Errorf("%d record batches, want %d", n, len(in))
			}
			fr.Close()

			// The stream embedded after the magic ("ARROW1" and padding).
			sr, err := ipc.NewReader(bytes.NewReader(data[8:]), ipc.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			var streamed []arrow.RecordBatch
			for sr.Next() {
				r := sr.RecordBatch()
				r.Retain()
				streamed = append(streamed, r)
			}
			if err := sr.Err(); err != nil {
				t.Fatalf("embedded stream: %v", err)
			}
			sr.Release()
			if got, want := decoded(streamed), decoded(in); got != want {
				t.Errorf("embedded stream rows:\n%s\nwant\n%s", got, want)
			}
			release(streamed)

			src, err := arrowfile.NewSource(path, arrowfile.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, src)
			src.Close()
			if g, w := decoded(got), decoded(in); g != w {
				t.Errorf("rows:\n%s\nwant\n%s", g, w)
			}
			release(got)
		})
	}
}

// TestDictionaryUnifyFailures: a sink abandoned before Close, and one
// whose unified dictionary outgrows the column's index type (int8: 128
// values), leave no file and no spool.
func TestDictionaryUnifyFailures(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.arrow")

	sink, err := arrowfile.NewSink(path, dictSchema, arrowfile.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	rec := cityBatch(t, mem, 0, "a", "b")
	if err := sink.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := sink.Close(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close(done) = %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("abandoned sink left %v", ents)
	}

	sink, err = arrowfile.NewSink(path, dictSchema, arrowfile.WithAllocator(mem), arrowfile.WithAtomicRename(true))
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 5 && werr == nil; i++ {
		cities := make([]string, 40)
		for j := range cities {
			cities[j] = fmt.Sprintf("city-%d-%d", i, j)
		}
		rec := cityBatch(t, mem, int64(i*40), cities...)
		werr = sink.Write(ctx, rec)
		rec.Release()
	}
	if werr == nil || !strings.Contains(werr.Error(), `column "city"`) || !strings.Contains(werr.Error(), "int8") || !strings.Contains(werr.Error(), path) {
		t.Fatalf("outgrown index type: %v", werr)
	}
	if err := sink.Close(ctx); err == nil {
		t.Fatal("Close after a failed Write returned nil")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("failed sink left %v", ents)
	}
}

func release(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}
