package pcs

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Row-wise systems with no ceremony. A rule such as `valid = amount > 0`
// is one call:
//
//	valid := pcs.Map1("valid", amount, isValid, func(a float64) bool { return a > 0 })
//
// Map1 and Map2 make a System that declares its reads (the input fields)
// and its write (the output field), reads the input columns, calls fn
// once per row with their typed values, builds the output column with
// the dataset's allocator and sets it; builders and arrays are released
// for the caller. A row where an input is null is null in the output (as
// SQL does), and fn is not called for it. For more (errors per row, nulls
// out of non-null input, resources, a retry policy) write a SystemFunc.

// Valued is the constraint of the arrow-go array types whose values a
// Map function takes: arrays with a typed Value method (*array.Float64
// gives float64, *array.Int64 int64, *array.String string,
// *array.Boolean bool, *array.Timestamp arrow.Timestamp, ...).
type Valued[V any] interface {
	arrow.Array
	Value(i int) V
}

// appender is a builder of values of type O.
type appender[O any] interface {
	array.Builder
	Append(O)
}

// Map1 returns a system named name that sets out to fn(in) row by row:
// out[i] = fn(in[i]), null where in[i] is null. I is the Go type of in's
// values and O that of out's builder (bool for a boolean field, float64
// for float64, string for utf8, arrow.Timestamp for a timestamp, ...).
// An O the output field's builder does not take makes every run fail
// with a permanent error that names the field and both types.
func Map1[IA Valued[I], OA arrow.Array, I, O any](name string, in FieldRef[IA], out FieldRef[OA], fn func(I) O) System {
	return mapSystem(name, []Ref{in}, out, func(ds *Dataset, b appender[O]) error {
		a, err := in.Get(ds)
		if err != nil {
			return err
		}
		nulls := a.NullN() > 0
		for i := range a.Len() {
			if nulls && a.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(fn(a.Value(i)))
		}
		return nil
	})
}

// Map2 is Map1 over two input fields: out[i] = fn(a[i], b[i]), null
// where a[i] or b[i] is null.
func Map2[AA Valued[A], BA Valued[B], OA arrow.Array, A, B, O any](name string, a FieldRef[AA], b FieldRef[BA], out FieldRef[OA], fn func(A, B) O) System {
	return mapSystem(name, []Ref{a, b}, out, func(ds *Dataset, bld appender[O]) error {
		x, err := a.Get(ds)
		if err != nil {
			return err
		}
		y, err := b.Get(ds)
		if err != nil {
			return err
		}
		nulls := x.NullN() > 0 || y.NullN() > 0
		for i := range x.Len() {
			if nulls && (x.IsNull(i) || y.IsNull(i)) {
				bld.AppendNull()
				continue
			}
			bld.Append(fn(x.Value(i), y.Value(i)))
		}
		return nil
	})
}

// mapSystem is the system of Map1 and Map2: fill appends ds.Len() values
// to a builder of out's type.
func mapSystem[OA arrow.Array, O any](name string, reads []Ref, out FieldRef[OA], fill func(ds *Dataset, b appender[O]) error) System {
	var setup error
	probe := array.NewBuilder(memory.DefaultAllocator, out.Type())
	if _, ok := probe.(appender[O]); !ok {
		var o O
		setup = Permanent(fmt.Errorf("%w: system %q: field %s (%s) is built by %T, which does not take %T values",
			ErrFieldType, name, out, out.Type(), probe, o))
	}
	probe.Release()
	return SystemFunc(Meta(name).Read(reads...).Write(out), func(ctx context.Context, ds *Dataset) error {
		if setup != nil {
			return setup
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b := array.NewBuilder(ds.Allocator(), out.Type())
		defer b.Release()
		b.Reserve(ds.Len())
		if err := fill(ds, b.(appender[O])); err != nil {
			return err
		}
		arr := b.NewArray()
		defer arr.Release()
		col, ok := arr.(OA)
		if !ok { // NewField checked that out's type is held in OA
			return Permanent(fmt.Errorf("%w: system %q: built %T for %s", ErrFieldType, name, arr, out))
		}
		return out.Set(ds, col)
	})
}
