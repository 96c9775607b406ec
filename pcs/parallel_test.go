package pcs_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// checkSplit checks that ranges cover [0, n) in order, without gaps or
// overlap, in at most maxParts nearly equal parts of at least minRows rows
// (a single range may be smaller).
func checkSplit(t *testing.T, n int, opts pcs.ParallelOptions, maxParts, minRows int) []pcs.RowRange {
	t.Helper()
	rs := pcs.SplitRows(n, opts)
	where := fmt.Sprintf("SplitRows(%d, %+v) = %v", n, opts, rs)
	if len(rs) == 0 || len(rs) > maxParts {
		t.Fatalf("%s: %d ranges, want 1..%d", where, len(rs), maxParts)
	}
	next, lo, hi := 0, n, 0
	for _, r := range rs {
		if r.Lo != next || r.Hi < r.Lo || r.Len() != r.Hi-r.Lo {
			t.Fatalf("%s: range %v does not start at %d", where, r, next)
		}
		next = r.Hi
		lo, hi = min(lo, r.Len()), max(hi, r.Len())
	}
	if next != n {
		t.Fatalf("%s: ranges end at %d, want %d", where, next, n)
	}
	if len(rs) > 1 && (lo < minRows || hi-lo > 1) {
		t.Fatalf("%s: sizes from %d to %d (want >= %d, differing by at most 1)", where, lo, hi, minRows)
	}
	return rs
}

func TestSplitRows(t *testing.T) {
	if rs := pcs.SplitRows(0, pcs.ParallelOptions{Workers: 8, MinRows: 1}); len(rs) != 1 || rs[0] != (pcs.RowRange{}) {
		t.Errorf("SplitRows(0) = %v, want one empty range", rs)
	}
	for _, n := range []int{0, 1, 2, 7, 15, 16, 17, 100, 999, 1000, 1001, 65536, 100_003} {
		for _, w := range []int{1, 2, 3, 4, 7, 16, 1000} {
			for _, m := range []int{1, 2, 10, 333, 5000} {
				rs := checkSplit(t, n, pcs.ParallelOptions{Workers: w, MinRows: m}, w, m)
				// As many parts as the limits allow.
				if want := max(1, min(w, n/m)); len(rs) != want {
					t.Fatalf("SplitRows(%d, workers %d, min %d): %d ranges, want %d", n, w, m, len(rs), want)
				}
			}
		}
	}
	// Defaults: GOMAXPROCS workers, 16384 rows at least.
	procs := runtime.GOMAXPROCS(0)
	if rs := pcs.SplitRows(16383, pcs.ParallelOptions{Workers: 4}); len(rs) != 1 {
		t.Errorf("16383 rows with the default MinRows: %d ranges, want 1", len(rs))
	}
	if rs := checkSplit(t, 4*16384, pcs.ParallelOptions{Workers: 4}, 4, 16384); len(rs) != 4 {
		t.Errorf("4*16384 rows, 4 workers: %d ranges, want 4", len(rs))
	}
	if rs := checkSplit(t, 1_000_000, pcs.ParallelOptions{MinRows: 1}, procs, 1); len(rs) != procs {
		t.Errorf("default workers: %d ranges, want GOMAXPROCS=%d", len(rs), procs)
	}
}

// squares returns fn for ParallelRows building int64 i*i for the rows of
// its range, recording the ranges it was called with.
func squares(mem memory.Allocator, seen *sync.Map) func(context.Context, pcs.RowRange) (arrow.Array, error) {
	return func(_ context.Context, r pcs.RowRange) (arrow.Array, error) {
		if seen != nil {
			seen.Store(r, true)
		}
		b := array.NewInt64Builder(mem)
		defer b.Release()
		for i := r.Lo; i < r.Hi; i++ {
			b.Append(int64(i) * int64(i))
		}
		return b.NewArray(), nil
	}
}

func TestParallelRowsOrder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	for _, n := range []int{0, 1, 9, 10, 11, 100, 1000, 4097} {
		for _, w := range []int{1, 2, 3, 8, 64} {
			for _, m := range []int{1, 10, 0} {
				opts := pcs.ParallelOptions{Workers: w, MinRows: m}
				var seen sync.Map
				out, err := pcs.ParallelRows(ctx, mem, n, opts, squares(mem, &seen))
				if err != nil {
					t.Fatalf("n=%d %+v: %v", n, opts, err)
				}
				got, ok := out.(*array.Int64)
				if !ok || got.Len() != n || got.NullN() != 0 {
					t.Fatalf("n=%d %+v: result %T of %d rows", n, opts, out, out.Len())
				}
				for i := 0; i < n; i++ {
					if got.Value(i) != int64(i)*int64(i) {
						t.Fatalf("n=%d %+v: row %d = %d, want %d", n, opts, i, got.Value(i), i*i)
					}
				}
				// fn ran once per range of SplitRows, with those ranges.
				want := pcs.SplitRows(n, opts)
				calls := 0
				seen.Range(func(k, _ any) bool { calls++; return true })
				if calls != len(want) {
					t.Fatalf("n=%d %+v: fn called for %d ranges, want %d", n, opts, calls, len(want))
				}
				for _, r := range want {
					if _, ok := seen.Load(r); !ok {
						t.Fatalf("n=%d %+v: fn not called for %v", n, opts, r)
					}
				}
				out.Release()
			}
		}
	}
}

// With fewer rows than MinRows there is one slice: fn is called once with
// [0, n).
func TestParallelRowsSmall(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var calls atomic.Int32
	fn := func(ctx context.Context, r pcs.RowRange) (arrow.Array, error) {
		calls.Add(1)
		if r != (pcs.RowRange{Lo: 0, Hi: 99}) {
			t.Errorf("fn called with %v", r)
		}
		return squares(mem, nil)(ctx, r)
	}
	out, err := pcs.ParallelRows(context.Background(), mem, 99, pcs.ParallelOptions{Workers: 8, MinRows: 100}, fn)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	if calls.Load() != 1 || out.Len() != 99 || out.(*array.Int64).Value(98) != 98*98 {
		t.Fatalf("calls %d, out %d rows", calls.Load(), out.Len())
	}
}

// The slices really run at once: each waits until all have started.
func TestParallelRowsConcurrent(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const parts = 4
	var started sync.WaitGroup
	started.Add(parts)
	all := make(chan struct{})
	go func() { started.Wait(); close(all) }()
	fn := func(ctx context.Context, r pcs.RowRange) (arrow.Array, error) {
		started.Done()
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			return nil, errors.New("slices did not run concurrently")
		}
		return squares(mem, nil)(ctx, r)
	}
	out, err := pcs.ParallelRows(context.Background(), mem, 400, pcs.ParallelOptions{Workers: parts, MinRows: 1}, fn)
	if err != nil {
		t.Fatal(err)
	}
	out.Release()
}

func TestParallelRowsError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	boom := errors.New("boom")
	opts := pcs.ParallelOptions{Workers: 8, MinRows: 10}
	ranges := pcs.SplitRows(1000, opts)
	if len(ranges) != 8 {
		t.Fatalf("%d ranges", len(ranges))
	}
	bad := ranges[5]

	// The other slices succeed: their arrays are released.
	out, err := pcs.ParallelRows(context.Background(), mem, 1000, opts, func(ctx context.Context, r pcs.RowRange) (arrow.Array, error) {
		if r == bad {
			return nil, boom
		}
		return squares(mem, nil)(ctx, r)
	})
	if !errors.Is(err, boom) || out != nil {
		t.Fatalf("ParallelRows = %v, %v; want nil, boom", out, err)
	}

	// The other slices wait for their context: the error cancels it.
	var canceled atomic.Int32
	out, err = pcs.ParallelRows(context.Background(), mem, 1000, opts, func(ctx context.Context, r pcs.RowRange) (arrow.Array, error) {
		if r == bad {
			return nil, boom
		}
		select {
		case <-ctx.Done():
			canceled.Add(1)
			return nil, ctx.Err()
		case <-time.After(10 * time.Second):
			return squares(mem, nil)(ctx, r)
		}
	})
	if !errors.Is(err, boom) || out != nil {
		t.Fatalf("ParallelRows = %v, %v; want nil, boom (the first error)", out, err)
	}
	if canceled.Load() != 7 {
		t.Errorf("%d slices saw their context canceled, want 7", canceled.Load())
	}

	// A canceled parent context reaches fn.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, err = pcs.ParallelRows(ctx, mem, 1000, opts, func(ctx context.Context, r pcs.RowRange) (arrow.Array, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return squares(mem, nil)(ctx, r)
	})
	if !errors.Is(err, context.Canceled) || out != nil {
		t.Errorf("canceled parent: %v, %v", out, err)
	}
}

func TestParallelRowsBadOutput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, opts := range []pcs.ParallelOptions{{Workers: 4, MinRows: 10}, {Workers: 1}} {
		// One slice returns a row too many: ErrRowCount, nothing leaks.
		out, err := pcs.ParallelRows(context.Background(), mem, 100, opts, func(ctx context.Context, r pcs.RowRange) (arrow.Array, error) {
			if r.Lo == 0 {
				r.Hi++
			}
			return squares(mem, nil)(ctx, r)
		})
		if !errors.Is(err, pcs.ErrRowCount) || out != nil {
			t.Errorf("%+v: a slice of the wrong length: %v, %v", opts, out, err)
		}
		// One slice returns no array and no error: an error, not a panic
		// in a worker goroutine.
		out, err = pcs.ParallelRows(context.Background(), mem, 100, opts, func(ctx context.Context, r pcs.RowRange) (arrow.Array, error) {
			if r.Lo == 0 {
				return nil, nil
			}
			return squares(mem, nil)(ctx, r)
		})
		if err == nil || out != nil {
			t.Errorf("%+v: a slice returning nil: %v, %v", opts, out, err)
		}
	}
	// Slices of different types cannot be concatenated.
	out, err := pcs.ParallelRows(context.Background(), mem, 100, pcs.ParallelOptions{Workers: 2, MinRows: 1}, func(ctx context.Context, r pcs.RowRange) (arrow.Array, error) {
		if r.Lo == 0 {
			b := array.NewStringBuilder(mem)
			defer b.Release()
			for i := r.Lo; i < r.Hi; i++ {
				b.Append("x")
			}
			return b.NewArray(), nil
		}
		return squares(mem, nil)(ctx, r)
	})
	if err == nil || out != nil {
		t.Errorf("mixed types: %v, %v", out, err)
	}
}

// ParallelRows over zero-copy slices of a dataset column, the intended use.
func TestParallelRowsOverColumn(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := pcs.MustComponent[reading]("reading")
	rows := sampleReadings(5000)
	ds := readingsDataset(t, mem, c, rows)
	defer ds.Release()
	temp := pcs.MustField[*array.Float64](c, "temp")
	col, err := temp.Get(ds)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pcs.ParallelRows(context.Background(), mem, ds.Len(), pcs.ParallelOptions{Workers: 3, MinRows: 100},
		func(ctx context.Context, r pcs.RowRange) (arrow.Array, error) {
			in := pcs.SliceArray(col, r)
			defer in.Release()
			if in.Len() != r.Len() {
				return nil, fmt.Errorf("slice of %d rows for %v", in.Len(), r)
			}
			b := array.NewFloat64Builder(mem)
			defer b.Release()
			for i := 0; i < in.Len(); i++ {
				b.Append(in.Value(i) * 2)
			}
			return b.NewArray(), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	doubled := out.(*array.Float64)
	if err := temp.Set(ds, doubled); err != nil {
		t.Fatal(err)
	}
	out.Release()
	got, _ := temp.Get(ds)
	for i, r := range rows {
		if got.Value(i) != 2*r.Temp {
			t.Fatalf("row %d: %v, want %v", i, got.Value(i), 2*r.Temp)
		}
	}
}

func TestSliceArray(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := array.NewStringBuilder(mem)
	b.AppendValues([]string{"a", "bb", "ccc", "dddd", "eeeee"}, []bool{true, true, false, true, true})
	a := b.NewStringArray()
	b.Release()
	s := pcs.SliceArray(a, pcs.RowRange{Lo: 1, Hi: 4})
	a.Release() // the slice keeps the buffers alive
	if s.Len() != 3 || s.Value(0) != "bb" || !s.IsNull(1) || s.Value(2) != "dddd" {
		t.Fatalf("slice = %v", s)
	}
	if e := pcs.SliceArray(s, pcs.RowRange{Lo: 3, Hi: 3}); e.Len() != 0 {
		t.Errorf("empty slice has %d rows", e.Len())
	} else {
		e.Release()
	}
	// Zero copy: the slice shares the parent's value buffer.
	b2 := array.NewInt64Builder(mem)
	b2.AppendValues([]int64{1, 2, 3, 4}, nil)
	ints := b2.NewInt64Array()
	b2.Release()
	sl := pcs.SliceArray(ints, pcs.RowRange{Lo: 2, Hi: 4})
	if &sl.Int64Values()[0] != &ints.Int64Values()[2] {
		t.Error("SliceArray copied the values")
	}
	sl.Release()
	ints.Release()
	s.Release()
}

func TestParallelRowsPanicIsPermanentError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, err := pcs.ParallelRows(context.Background(), mem, 100, pcs.ParallelOptions{Workers: 2, MinRows: 10},
		func(ctx context.Context, r pcs.RowRange) (*array.Int64, error) {
			b := array.NewInt64Builder(mem)
			defer b.Release()
			b.AppendValues(make([]int64, r.Len()), nil)
			if r.Lo > 0 {
				panic("boom in worker")
			}
			return b.NewInt64Array(), nil
		})
	if !pcs.IsPermanent(err) || !strings.Contains(err.Error(), "boom in worker") {
		t.Fatalf("err = %v, want a permanent error naming the panic", err)
	}
}
