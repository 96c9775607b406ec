package transports_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
)

var eachSchema = arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)

// countingSource yields batches of one row (0, 1, ...) from mem, n of
// them, then end (io.EOF or another error).
type countingSource struct {
	mem   memory.Allocator
	n     int
	end   error
	reads int
}

func (s *countingSource) Schema() *arrow.Schema { return eachSchema }
func (s *countingSource) Close() error          { return nil }

func (s *countingSource) Read(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.reads >= s.n {
		return nil, s.end
	}
	b := array.NewInt64Builder(s.mem)
	defer b.Release()
	b.Append(int64(s.reads))
	col := b.NewArray()
	defer col.Release()
	s.reads++
	return array.NewRecordBatch(eachSchema, []arrow.Array{col}, 1), nil
}

func TestEach(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		n       int
		end     error
		stopAt  int // fn fails at this value; -1 never
		want    error
		wantSum int64
		calls   int
	}{
		{"to EOF", 5, io.EOF, -1, nil, 0 + 1 + 2 + 3 + 4, 5},
		{"empty", 0, io.EOF, -1, nil, 0, 0},
		{"read error", 3, boom, -1, boom, 0 + 1 + 2, 3},
		{"fn error", 5, io.EOF, 2, boom, 0 + 1 + 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			src := &countingSource{mem: mem, n: tc.n, end: tc.end}
			var sum int64
			calls := 0
			err := transports.Each(ctx, src, func(rec arrow.RecordBatch) error {
				calls++
				v := rec.Column(0).(*array.Int64).Value(0)
				sum += v
				if int(v) == tc.stopAt {
					return boom
				}
				return nil
			})
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Each = %v, want %v", err, tc.want)
			}
			if sum != tc.wantSum || calls != tc.calls {
				t.Errorf("sum %d over %d calls, want %d over %d", sum, calls, tc.wantSum, tc.calls)
			}
		})
	}

	// A batch that fn retains stays valid after Each released its own
	// reference.
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var kept []arrow.RecordBatch
	err := transports.Each(ctx, &countingSource{mem: mem, n: 3, end: io.EOF}, func(rec arrow.RecordBatch) error {
		rec.Retain()
		kept = append(kept, rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range kept {
		if v := rec.Column(0).(*array.Int64).Value(0); v != int64(i) {
			t.Errorf("kept batch %d holds %d", i, v)
		}
		rec.Release()
	}

	// A done ctx is the source's error to report.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := transports.Each(done, &countingSource{mem: mem, n: 3, end: io.EOF}, func(arrow.RecordBatch) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("done ctx: %v", err)
	}
}
