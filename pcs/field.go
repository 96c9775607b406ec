package pcs

import (
	"fmt"
	"reflect"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Ref is something a system declares it reads or writes in SystemMeta: a
// field ([FieldRef]), a whole component ([AnyComponent]), a resource type
// ([ResourceRef]) or the alive bitmap ([Rows]). The interface is sealed.
type Ref interface {
	access() access
}

// access is the resolved identity of a Ref.
type access struct {
	kind      accessKind
	component string
	field     string         // "" for a whole component
	dtype     arrow.DataType // a field's type as its FieldRef saw it; nil otherwise
	resource  reflect.Type
}

type accessKind uint8

const (
	accessField accessKind = iota
	accessComponent
	accessResource
	accessAlive
)

func componentAccess(name string) access { return access{kind: accessComponent, component: name} }

func (a access) String() string {
	switch a.kind {
	case accessField:
		return a.component + "." + a.field
	case accessComponent:
		return a.component + ".*"
	case accessResource:
		return "resource " + a.resource.String()
	default:
		return "rows (alive bitmap)"
	}
}

// FieldRef is a typed handle to one field of a component. A is the concrete
// arrow-go array type of the field (*array.Float64, *array.String,
// *array.Timestamp, ...). Systems declare access with it and read or write
// the column with Get and Set, with no type assertion at the call site.
// FieldRef is a small value, safe to copy and share.
type FieldRef[A arrow.Array] struct {
	component string
	field     string
	index     int
	dtype     arrow.DataType
}

// NewField returns the handle of field name of component c. It returns an
// error wrapping ErrUnknownField if c has no such field, or ErrFieldType
// if the field's arrays are not of type A; both name component and field.
func NewField[A arrow.Array](c AnyComponent, name string) (FieldRef[A], error) {
	idx := fieldIndex(c.Schema(), name)
	if idx < 0 {
		return FieldRef[A]{}, fmt.Errorf("%w: component %q has no field %q (fields: %s)", ErrUnknownField, c.Name(), name, fieldNames(schemaNames(c.Schema())))
	}
	dt := c.Schema().Field(idx).Type
	if err := checkArrayType[A](dt); err != nil {
		return FieldRef[A]{}, fmt.Errorf("%w: %s.%s: %v", ErrFieldType, c.Name(), name, err)
	}
	return FieldRef[A]{component: c.Name(), field: name, index: idx, dtype: dt}, nil
}

// MustField is NewField that panics on error; for package-level handles.
func MustField[A arrow.Array](c AnyComponent, name string) FieldRef[A] {
	f, err := NewField[A](c, name)
	if err != nil {
		panic(err)
	}
	return f
}

// Component returns the component name.
func (f FieldRef[A]) Component() string { return f.component }

// Name returns the field name.
func (f FieldRef[A]) Name() string { return f.field }

// Type returns the field's Arrow data type.
func (f FieldRef[A]) Type() arrow.DataType { return f.dtype }

// String returns "component.field".
func (f FieldRef[A]) String() string { return f.component + "." + f.field }

func (f FieldRef[A]) access() access {
	return access{kind: accessField, component: f.component, field: f.field, dtype: f.dtype}
}

// Get returns the field's column in ds: ds.Len() rows, borrowed (valid
// until the dataset replaces or releases it; Retain to keep it longer).
// Inside a system it returns the system's own pending write if there is
// one. Errors: ErrUnknownComponent, ErrUndeclaredAccess, and
// ErrUnknownField or ErrFieldType if the dataset's component of that name
// has another schema than the one f was made from.
func (f FieldRef[A]) Get(ds *Dataset) (A, error) {
	arr, err := ds.column(f.component, f.field, f.index)
	if err != nil {
		var zero A
		return zero, err
	}
	a, ok := arr.(A)
	if !ok {
		return a, fmt.Errorf("%w: %s.%s is %s (%T), not %T", ErrFieldType, f.component, f.field, arr.DataType(), arr, a)
	}
	return a, nil
}

// Set replaces the field's column in ds with arr, which must have
// ds.Len() rows and the field's type. Set retains arr; the caller keeps its
// own reference and releases it as usual. Inside a system the write is
// buffered in the system's write set and applied after its stage.
// Errors: ErrRowCount, ErrSchemaMismatch, ErrUndeclaredAccess.
func (f FieldRef[A]) Set(ds *Dataset, arr A) error {
	return ds.setColumn(f.component, f.field, f.index, arr)
}

// ResourceRef names a resource type in SystemMeta; make one with
// [Resource].
type ResourceRef struct{ t reflect.Type }

// Resource returns the Ref of resource type T.
func Resource[T any]() ResourceRef { return ResourceRef{t: reflect.TypeFor[T]()} }

func (r ResourceRef) access() access { return access{kind: accessResource, resource: r.t} }

// String returns "resource <type>".
func (r ResourceRef) String() string { return r.access().String() }

// Rows is the Ref of the alive bitmap: a system that soft-deletes rows
// (Dataset.Delete) declares Write(pcs.Rows). Every system implicitly reads
// it, so a deleting system is ordered after all systems registered before
// it and before all registered after it.
var Rows Ref = aliveRef{}

type aliveRef struct{}

func (aliveRef) access() access { return access{kind: accessAlive} }
func (aliveRef) String() string { return "rows (alive bitmap)" }

// checkArrayType reports whether arrays of type dt are A.
func checkArrayType[A arrow.Array](dt arrow.DataType) error {
	probe := array.MakeArrayOfNull(memory.DefaultAllocator, dt, 0)
	defer probe.Release()
	if _, ok := probe.(A); !ok {
		var zero A
		return fmt.Errorf("field type %s is held in %T, not %T", dt, probe, zero)
	}
	return nil
}

func schemaNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}
