package local

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	memsrc "github.com/pcs-dev/pcs/transports/memory"
)

var errRead = errors.New("read failed")

// failingSource returns errRead after its batches.
type failingSource struct{ transports.Source }

func (f failingSource) Read(ctx context.Context) (arrow.RecordBatch, error) {
	rec, err := f.Source.Read(ctx)
	if errors.Is(err, io.EOF) {
		return nil, errRead
	}
	return rec, err
}

// TestPrefetch: the batches come in order, then the source's error
// (io.EOF or another) and again; stopping early releases the batches
// read ahead; every batch is released (checked allocator).
func TestPrefetch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var batches []arrow.RecordBatch
	for i := range 10 {
		b := array.NewInt64Builder(mem)
		b.AppendValues([]int64{int64(i), int64(i)}, nil)
		col := b.NewArray()
		b.Release()
		batches = append(batches, array.NewRecordBatch(schema, []arrow.Array{col}, 2))
		col.Release()
	}
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	open := func(t *testing.T) transports.Source {
		src, err := memsrc.NewSource(batches)
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	ctx := context.Background()

	for name, tc := range map[string]struct {
		wrap    func(transports.Source) transports.Source
		take    int // batches taken before stop; -1: all
		wantErr error
	}{
		"all":        {wrap: func(s transports.Source) transports.Source { return s }, take: -1, wantErr: io.EOF},
		"error":      {wrap: func(s transports.Source) transports.Source { return failingSource{s} }, take: -1, wantErr: errRead},
		"stop-early": {wrap: func(s transports.Source) transports.Source { return s }, take: 3},
		"stop-first": {wrap: func(s transports.Source) transports.Source { return s }, take: 0},
	} {
		t.Run(name, func(t *testing.T) {
			src := open(t)
			defer src.Close()
			in := prefetch(ctx, tc.wrap(src), 2)
			n := 0
			for tc.take < 0 || n < tc.take {
				rec, err := in.next()
				if err != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("after %d batches: %v, want %v", n, err, tc.wantErr)
					}
					if _, again := in.next(); !errors.Is(again, tc.wantErr) {
						t.Fatalf("next after the error: %v, want %v again", again, tc.wantErr)
					}
					break
				}
				if got := rec.Column(0).(*array.Int64).Value(0); got != int64(n) {
					t.Fatalf("batch %d holds %d", n, got)
				}
				rec.Release()
				n++
			}
			in.stop()
			if tc.take < 0 && n != 10 {
				t.Fatalf("read %d batches, want 10", n)
			}
		})
	}

	t.Run("cancel", func(t *testing.T) {
		src := open(t)
		defer src.Close()
		cctx, cancel := context.WithCancel(ctx)
		in := prefetch(cctx, src, 2)
		cancel()
		for {
			rec, err := in.next()
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("after cancel: %v, want context.Canceled", err)
				}
				break
			}
			rec.Release()
		}
		in.stop()
	})
}
