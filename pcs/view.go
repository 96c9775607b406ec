package pcs

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// View is a component of a dataset seen through typed column accessors.
// Each accessor returns the concrete arrow-go array of a field (ds.Len()
// rows, borrowed like every Dataset array) or an error naming component and
// field: ErrUnknownField, ErrFieldType for a field of another type,
// ErrUndeclaredAccess inside a system that did not declare the read.
type View struct {
	ds   *Dataset
	comp string
}

// View returns the view of component, or an error wrapping
// ErrUnknownComponent.
func (ds *Dataset) View(component string) (*View, error) {
	if _, err := ds.st.comp(component); err != nil {
		return nil, err
	}
	return &View{ds: ds, comp: component}, nil
}

// Component returns the viewed component's name.
func (v *View) Component() string { return v.comp }

// Len returns the number of rows (deleted ones included).
func (v *View) Len() int { return v.ds.Len() }

// Column returns field's column as an untyped arrow.Array.
func (v *View) Column(field string) (arrow.Array, error) { return v.ds.column(v.comp, field, -1) }

// Float64 returns a float64 field.
func (v *View) Float64(field string) (*array.Float64, error) { return viewAs[*array.Float64](v, field) }

// Float32 returns a float32 field.
func (v *View) Float32(field string) (*array.Float32, error) { return viewAs[*array.Float32](v, field) }

// Int64 returns an int64 field.
func (v *View) Int64(field string) (*array.Int64, error) { return viewAs[*array.Int64](v, field) }

// Int32 returns an int32 field.
func (v *View) Int32(field string) (*array.Int32, error) { return viewAs[*array.Int32](v, field) }

// Uint64 returns a uint64 field.
func (v *View) Uint64(field string) (*array.Uint64, error) { return viewAs[*array.Uint64](v, field) }

// Uint32 returns a uint32 field.
func (v *View) Uint32(field string) (*array.Uint32, error) { return viewAs[*array.Uint32](v, field) }

// Bool returns a boolean field.
func (v *View) Bool(field string) (*array.Boolean, error) { return viewAs[*array.Boolean](v, field) }

// String returns a utf8 field.
func (v *View) String(field string) (*array.String, error) { return viewAs[*array.String](v, field) }

// Binary returns a binary field.
func (v *View) Binary(field string) (*array.Binary, error) { return viewAs[*array.Binary](v, field) }

// Timestamp returns a timestamp field (any unit; see the field's
// arrow.TimestampType for unit and zone).
func (v *View) Timestamp(field string) (*array.Timestamp, error) {
	return viewAs[*array.Timestamp](v, field)
}

func viewAs[A arrow.Array](v *View, field string) (A, error) {
	var zero A
	col, err := v.ds.column(v.comp, field, -1)
	if err != nil {
		return zero, err
	}
	a, ok := col.(A)
	if !ok {
		return zero, fmt.Errorf("%w: %s.%s is %s (%T), not %T", ErrFieldType, v.comp, field, col.DataType(), col, zero)
	}
	return a, nil
}
