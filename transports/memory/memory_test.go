package memory_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowmem "github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/memory"
	"github.com/pcs-dev/pcs/transports/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, transporttest.Harness{
		Open: func(t *testing.T, mem arrowmem.Allocator) transporttest.Endpoint {
			var last *memory.Sink
			t.Cleanup(func() {
				if last != nil {
					last.Release()
				}
			})
			return transporttest.Endpoint{
				NewSink: func(sc *arrow.Schema) (transports.Sink, error) {
					if last != nil {
						last.Release()
					}
					last = memory.NewSink(sc)
					return last, nil
				},
				NewSource: func(*arrow.Schema) (transports.Source, error) {
					if last == nil {
						return nil, errors.New("nothing written")
					}
					return last.Source()
				},
			}
		},
		Caps: transporttest.Capabilities{Types: transporttest.AllTypes(), CloseIdempotent: true},
	})
}

var schema = arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)

func batch(mem arrowmem.Allocator, vals ...int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues(vals, nil)
	return b.NewRecordBatch()
}

// TestCopyThroughSink copies a Source into a Sink with transports.Copy
// and checks the rows, the retained references and the release.
func TestCopyThroughSink(t *testing.T) {
	mem := arrowmem.NewCheckedAllocator(arrowmem.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()

	a, b, empty := batch(mem, 1, 2, 3), batch(mem, 4), batch(mem)
	src, err := memory.NewSource([]arrow.RecordBatch{a, empty, b})
	a.Release()
	b.Release()
	empty.Release()
	if err != nil {
		t.Fatal(err)
	}
	sink := memory.NewSink(nil)
	st, err := transports.Copy(ctx, sink, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Batches != 3 || st.Rows != 4 {
		t.Errorf("copy stats %+v, want 3 batches, 4 rows", st)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if sink.Rows() != 4 || !sink.Schema().Equal(schema) {
		t.Errorf("sink has %d rows, schema %s", sink.Rows(), sink.Schema())
	}
	got := sink.Batches()
	if len(got) != 2 {
		t.Fatalf("sink kept %d batches, want 2 (the empty one is dropped)", len(got))
	}
	sink.Release()
	if sink.Rows() != 0 {
		t.Errorf("Rows after Release = %d", sink.Rows())
	}
	// The batches handed out survive the sink's Release.
	if v := got[1].Column(0).(*array.Int64).Value(0); v != 4 {
		t.Errorf("second batch holds %d, want 4", v)
	}
	for _, g := range got {
		g.Release()
	}
}

func TestSourceErrors(t *testing.T) {
	mem := arrowmem.NewCheckedAllocator(arrowmem.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	if _, err := memory.NewSource(nil); !errors.Is(err, memory.ErrNoSchema) {
		t.Errorf("NewSource(nil) = %v, want ErrNoSchema", err)
	}
	src, err := memory.NewSource(nil, memory.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Read(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("Read of an empty source = %v, want io.EOF", err)
	}
	src.Close()

	a := batch(mem, 1)
	defer a.Release()
	other := arrow.NewSchema([]arrow.Field{{Name: "y", Type: arrow.PrimitiveTypes.Int64}}, nil)
	if _, err := memory.NewSource([]arrow.RecordBatch{a}, memory.WithSchema(other)); !errors.Is(err, transports.ErrSchemaMismatch) {
		t.Errorf("NewSource with another schema = %v, want ErrSchemaMismatch", err)
	}

	src, err = memory.NewSource([]arrow.RecordBatch{a, a}, memory.WithSkipEmpty(true))
	if err != nil {
		t.Fatal(err)
	}
	if src.Len() != 2 {
		t.Errorf("Len = %d, want 2", src.Len())
	}
	src.Close()
	if _, err := src.Read(context.Background()); !errors.Is(err, memory.ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
}
