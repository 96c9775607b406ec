package pcs

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"
)

// ParallelOptions tunes ParallelRows.
type ParallelOptions struct {
	// Workers is the number of goroutines; 0 means runtime.GOMAXPROCS(0).
	Workers int
	// MinRows is the smallest slice worth a goroutine; 0 means 16384 rows.
	// Fewer rows than that run as one slice on the caller's goroutine.
	MinRows int
}

// ParallelRows splits rows [0, n) into contiguous slices, one per worker,
// calls fn on each concurrently, and returns the arrays fn returned
// concatenated in row order (allocated from mem; the caller releases it).
// A is the concrete array type fn builds (*array.Float64, ...). fn
// typically slices its input columns with SliceArray (zero copy) and
// builds an output array of exactly r.Len() rows; it must not write to the
// dataset (Set the result afterwards). The first error cancels the other
// slices' ctx and is returned; a panic in fn is returned as a Permanent
// error; a nil or wrong-length result wraps ErrRowCount. Partial results
// are released on every path.
func ParallelRows[A arrow.Array](ctx context.Context, mem memory.Allocator, n int, opts ParallelOptions, fn func(ctx context.Context, r RowRange) (A, error)) (A, error) {
	var zero A
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	ranges := SplitRows(n, opts)
	parts := make([]arrow.Array, len(ranges))
	defer func() { releaseAll(parts) }()
	run := func(ctx context.Context, k int) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = Permanent(fmt.Errorf("pcs: parallel slice [%d, %d) panicked: %v\n%s", ranges[k].Lo, ranges[k].Hi, r, debug.Stack()))
			}
		}()
		out, err := fn(ctx, ranges[k])
		if err != nil {
			return err
		}
		if v := reflect.ValueOf(out); !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil() {
			return fmt.Errorf("%w: parallel slice [%d, %d) returned no array", ErrRowCount, ranges[k].Lo, ranges[k].Hi)
		}
		parts[k] = out
		if out.Len() != ranges[k].Len() {
			return fmt.Errorf("%w: parallel slice [%d, %d) returned %d rows", ErrRowCount, ranges[k].Lo, ranges[k].Hi, out.Len())
		}
		return nil
	}
	if len(ranges) == 1 {
		if err := run(ctx, 0); err != nil {
			return zero, err
		}
		parts[0].Retain()
		return parts[0].(A), nil
	}
	g, gctx := errgroup.WithContext(ctx)
	for k := range ranges {
		g.Go(func() error { return run(gctx, k) })
	}
	if err := g.Wait(); err != nil {
		return zero, err
	}
	out, err := array.Concatenate(parts, mem)
	if err != nil {
		return zero, fmt.Errorf("pcs: parallel rows: %w", err)
	}
	return out.(A), nil
}

// SplitRows cuts [0, n) into at most opts.Workers contiguous ranges of
// nearly equal size and at least opts.MinRows rows (see ParallelOptions);
// n == 0 gives one empty range.
func SplitRows(n int, opts ParallelOptions) []RowRange {
	w := opts.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	minRows := opts.MinRows
	if minRows <= 0 {
		minRows = 16384
	}
	if most := n / minRows; most < w {
		w = max(most, 1)
	}
	out := make([]RowRange, w)
	for k := range out {
		out[k] = RowRange{Lo: n * k / w, Hi: n * (k + 1) / w}
	}
	return out
}

// SliceArray returns rows r of a as an array of the same concrete type,
// sharing a's buffers (zero copy). The caller must Release the slice.
func SliceArray[A arrow.Array](a A, r RowRange) A {
	return array.NewSlice(a, int64(r.Lo), int64(r.Hi)).(A)
}
