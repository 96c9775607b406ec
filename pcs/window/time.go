package window

import (
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// TimeSpec says where event time comes from.
//
// Internally every event time is an int64 count of milliseconds since the
// Unix epoch, UTC (sub-millisecond parts are floored). Windows, watermarks,
// window_start and window_end all use that unit; output columns are
// timestamp[ms, UTC].
type TimeSpec struct {
	// Column names the event-time column. Accepted types: timestamp of any
	// unit (the time zone is ignored: Arrow timestamps are UTC instants),
	// date32, date64, int64 (or any signed integer) counting Unit since the
	// epoch, and string or large_string in RFC 3339 when Format is
	// "rfc3339".
	Column string
	// Unit of integer epoch columns: time.Second, time.Millisecond,
	// time.Microsecond or time.Nanosecond. Zero means time.Millisecond.
	// Ignored for other column types.
	Unit time.Duration
	// Format of string columns: "rfc3339" (RFC 3339 with optional
	// fractional seconds). Strings are rejected unless it is set.
	Format string
}

// timeReader converts one event-time column to int64 ms. The result is
// valid until the next call and may alias the column's buffer: read only.
// Null times are left to the caller (col.IsNull).
type timeReader func(col arrow.Array) ([]int64, error)

func compileTime(ts TimeSpec, schema *arrow.Schema) (int, timeReader, error) {
	idx := schema.FieldIndices(ts.Column)
	if len(idx) == 0 {
		return 0, nil, fmt.Errorf("%w: time column %q", ErrUnknownColumn, ts.Column)
	}
	dt := schema.Field(idx[0]).Type
	var dst []int64 // scratch of the reader
	switch t := dt.(type) {
	case *arrow.TimestampType:
		div, mul := unitScale(t.Unit)
		return idx[0], func(c arrow.Array) ([]int64, error) {
			v := c.(*array.Timestamp).TimestampValues()
			if div == 1 && mul == 1 {
				return unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(v))), len(v)), nil // read only
			}
			dst = grow(dst, len(v))
			scaleTimes(dst, unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(v))), len(v)), div, mul)
			return dst, nil
		}, nil
	case *arrow.Date32Type:
		return idx[0], func(c arrow.Array) ([]int64, error) {
			v := c.(*array.Date32).Date32Values()
			dst = grow(dst, len(v))
			for i, x := range v {
				dst[i] = int64(x) * 86_400_000
			}
			return dst, nil
		}, nil
	case *arrow.Date64Type:
		return idx[0], func(c arrow.Array) ([]int64, error) {
			v := c.(*array.Date64).Date64Values()
			dst = grow(dst, len(v))
			for i, x := range v {
				dst[i] = int64(x)
			}
			return dst, nil
		}, nil
	case *arrow.Int64Type, *arrow.Int32Type, *arrow.Int16Type, *arrow.Int8Type:
		var div, mul int64
		switch ts.Unit {
		case 0, time.Millisecond:
			div, mul = 1, 1
		case time.Second:
			div, mul = 1, 1000
		case time.Microsecond:
			div, mul = 1000, 1
		case time.Nanosecond:
			div, mul = 1_000_000, 1
		default:
			return 0, nil, fmt.Errorf("%w: time column %q: unit %v (want 1s, 1ms, 1us or 1ns)", ErrSpec, ts.Column, ts.Unit)
		}
		return idx[0], func(c arrow.Array) ([]int64, error) {
			v := int64s(c, dst) // may be the column's own buffer: read only
			if _, own := c.(*array.Int64); !own {
				dst = v
			}
			if div == 1 && mul == 1 {
				return v, nil
			}
			out := v
			if _, own := c.(*array.Int64); own {
				out = grow(dst, len(v))
				dst = out
			}
			scaleTimes(out, v, div, mul)
			return out, nil
		}, nil
	case *arrow.StringType, *arrow.LargeStringType:
		if ts.Format != "rfc3339" {
			return 0, nil, fmt.Errorf("%w: time column %q is %s: set Format \"rfc3339\"", ErrType, ts.Column, dt)
		}
		return idx[0], func(c arrow.Array) ([]int64, error) {
			sv := c.(interface{ Value(int) string })
			dst = grow(dst, c.Len())
			for i := range dst {
				if c.IsNull(i) {
					dst[i] = 0
					continue
				}
				tm, err := time.Parse(time.RFC3339Nano, sv.Value(i))
				if err != nil {
					return nil, fmt.Errorf("%w: column %q row %d: %v", ErrEventTime, ts.Column, i, err)
				}
				dst[i] = floorDiv(tm.UnixNano(), 1_000_000)
			}
			return dst, nil
		}, nil
	}
	return 0, nil, fmt.Errorf("%w: time column %q is %s (want timestamp, date, integer or rfc3339 string)", ErrType, ts.Column, dt)
}

// unitScale returns (div, mul) converting a timestamp unit to ms.
func unitScale(u arrow.TimeUnit) (int64, int64) {
	switch u {
	case arrow.Second:
		return 1, 1000
	case arrow.Microsecond:
		return 1000, 1
	case arrow.Nanosecond:
		return 1_000_000, 1
	}
	return 1, 1
}

// scaleTimes sets dst[i] = floorDiv(src[i], div) * mul (dst may be src).
// The usual divisors are constants here, so the compiler turns the
// division into a multiplication.
func scaleTimes(dst, src []int64, div, mul int64) {
	dst = dst[:len(src)]
	switch div {
	case 1:
		for i, x := range src {
			dst[i] = x * mul
		}
	case 1000:
		for i, x := range src {
			q := x / 1000
			if x%1000 < 0 {
				q--
			}
			dst[i] = q * mul
		}
	case 1_000_000:
		for i, x := range src {
			q := x / 1_000_000
			if x%1_000_000 < 0 {
				q--
			}
			dst[i] = q * mul
		}
	default:
		for i, x := range src {
			dst[i] = floorDiv(x, div) * mul
		}
	}
}

// floorDiv divides rounding toward negative infinity.
func floorDiv(a, b int64) int64 {
	if b == 1 {
		return a
	}
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// align returns the largest off + k*step <= t.
func align(t, step, off int64) int64 {
	return off + floorDiv(t-off, step)*step
}

// satAdd adds without overflowing past the int64 range.
func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// msDuration converts d to whole milliseconds; what names the field.
func msDuration(what string, d time.Duration) (int64, error) {
	if d < 0 || d%time.Millisecond != 0 {
		return 0, fmt.Errorf("%w: %s %v must be a non-negative whole number of milliseconds", ErrSpec, what, d)
	}
	return int64(d / time.Millisecond), nil
}
