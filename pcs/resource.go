package pcs

import (
	"fmt"
	"reflect"
)

// Resources are typed singletons a dataset carries beside its columns: a
// lookup table, FX rates, a summary a system computes. There is at most one
// resource per Go type T, so give each resource its own named type.
// Resources are not columnar and are not serialized by WriteIPC; they live
// only in memory. Systems declare them with pcs.Resource[T]() in
// SystemMeta, like fields.
//
// Values are stored by value: GetResource returns a copy of T (a shallow
// one: maps and slices inside are shared, so treat those as read-only and
// replace them rather than mutate them in place).

// InsertResource sets the resource of type T to v, replacing any previous
// one. Inside a system (which must declare Write(pcs.Resource[T]())) the
// write is buffered and applied after its stage.
func InsertResource[T any](ds *Dataset, v T) error {
	t := reflect.TypeFor[T]()
	if ds.sc != nil {
		if err := ds.sc.resource(t, true); err != nil {
			return err
		}
		if ds.sc.res == nil {
			ds.sc.res = map[reflect.Type]any{}
		}
		ds.sc.res[t] = &v
		return nil
	}
	ds.st.resources[t] = &v
	return nil
}

// GetResource returns a copy of the resource of type T. Errors:
// ErrNoResource if there is none (a hint names a *T or T the dataset
// holds instead), ErrUndeclaredAccess inside a system that does not
// declare it; both are programming errors, permanent ([IsPermanent]):
// a pipeline does not retry them. Inside a system it sees the system's
// own pending write.
func GetResource[T any](ds *Dataset) (T, error) {
	p, err := resourcePtr[T](ds, false)
	if err != nil {
		var zero T
		return zero, err
	}
	return *p, nil
}

// MutateResource calls fn with a pointer to a copy of the resource of type
// T and stores the result: in place outside a pipeline, buffered in the
// write set inside a system (declare Write(pcs.Resource[T]())), so a
// failed attempt leaves the resource unchanged. Errors: ErrNoResource,
// ErrUndeclaredAccess, or fn's error (then nothing is stored).
func MutateResource[T any](ds *Dataset, fn func(*T) error) error {
	p, err := resourcePtr[T](ds, true)
	if err != nil {
		return err
	}
	v := *p
	if err := fn(&v); err != nil {
		return err
	}
	return InsertResource(ds, v)
}

func resourcePtr[T any](ds *Dataset, write bool) (*T, error) {
	t := reflect.TypeFor[T]()
	if ds.sc != nil {
		if err := ds.sc.resource(t, write); err != nil {
			return nil, err
		}
		if v, ok := ds.sc.res[t]; ok {
			return v.(*T), nil
		}
	}
	v, ok := ds.st.resources[t]
	if !ok {
		return nil, noResource(ds, t)
	}
	return v.(*T), nil
}

// noResource is ErrNoResource for type t, with a hint when the dataset
// holds the pointer type of t or the type t points to (a resource
// inserted as *T and read as T, or the reverse).
func noResource(ds *Dataset, t reflect.Type) error {
	has := func(u reflect.Type) bool {
		if _, ok := ds.st.resources[u]; ok {
			return true
		}
		if ds.sc != nil {
			_, ok := ds.sc.res[u]
			return ok
		}
		return false
	}
	var other reflect.Type
	if p := reflect.PointerTo(t); has(p) {
		other = p
	} else if t.Kind() == reflect.Pointer && has(t.Elem()) {
		other = t.Elem()
	}
	if other == nil {
		return fmt.Errorf("%w: %v (insert it with InsertResource before the pipeline runs, or from a system of an earlier stage that declares Write(pcs.Resource[%v]()))", ErrNoResource, t, t)
	}
	return fmt.Errorf("%w: %v, but there is a %v: resources are keyed by their exact type, so a pointer and a value are different resources; insert and read the same type (InsertResource(ds, v) with v a %v, or GetResource[%v])",
		ErrNoResource, t, other, t, other)
}
