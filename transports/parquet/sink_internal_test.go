package parquet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var errEncode = errors.New("encode failed")

// slowWriter delays every row group (so that several queue up behind
// it) and fails the one numbered failAt (0-based; -1 never), without
// writing it.
type slowWriter struct {
	rowGroupWriter
	calls  atomic.Int32
	failAt int32
}

func (w *slowWriter) writeRowGroup(recs []arrow.RecordBatch, n int64) error {
	time.Sleep(20 * time.Millisecond)
	if w.calls.Add(1)-1 == w.failAt {
		return errEncode
	}
	return w.rowGroupWriter.writeRowGroup(recs, n)
}

func int64Batch(mem memory.Allocator, schema *arrow.Schema, start, n int64) arrow.RecordBatch {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	for i := start; i < start+n; i++ {
		b.Append(i)
	}
	col := b.NewArray()
	defer col.Release()
	return array.NewRecordBatch(schema, []arrow.Array{col}, n)
}

// TestEncodeQueue: row groups queue behind a slow encoder without
// losing order or rows, and a failure of one row group fails the sink:
// the row groups queued behind it are dropped (their batches released),
// Write or Close reports it, and the incomplete file is removed.
func TestEncodeQueue(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	for _, failAt := range []int32{-1, 0, 1, 3} {
		t.Run(map[int32]string{-1: "ok", 0: "first", 1: "second", 3: "fourth"}[failAt], func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(t.TempDir(), "q.parquet")
			sink, err := NewSink(path, schema, WithRowGroupRows(100), WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			sink.cur.fw = &slowWriter{rowGroupWriter: sink.cur.fw, failAt: failAt}
			ctx := context.Background()
			var writeErr error
			for start := int64(0); start < 1000 && writeErr == nil; start += 30 {
				rec := int64Batch(mem, schema, start, min(30, 1000-start))
				writeErr = sink.Write(ctx, rec)
				rec.Release()
			}
			closeErr := sink.Close(ctx)
			if failAt < 0 {
				if writeErr != nil || closeErr != nil {
					t.Fatalf("write: %v, close: %v", writeErr, closeErr)
				}
				src, err := NewSource(path, WithAllocator(mem))
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				if src.NumRowGroups() != 10 {
					t.Errorf("%d row groups, want 10", src.NumRowGroups())
				}
				next := int64(0)
				for {
					rec, err := src.Read(ctx)
					if err != nil {
						break
					}
					for _, v := range rec.Column(0).(*array.Int64).Int64Values() {
						if v != next {
							t.Fatalf("row %d holds %d", next, v)
						}
						next++
					}
					rec.Release()
				}
				if next != 1000 {
					t.Fatalf("read %d rows, want 1000", next)
				}
				return
			}
			if !errors.Is(writeErr, errEncode) && !errors.Is(closeErr, errEncode) {
				t.Fatalf("write: %v, close: %v; want %v from one of them", writeErr, closeErr, errEncode)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the incomplete file is left: stat: %v", err)
			}
		})
	}
}
