package plan

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// conform returns rec shaped to schema: columns picked by name in schema
// order (extra columns dropped), cast where the type differs and arrow
// compute can cast, checked for nulls in non-nullable fields. Metadata is
// ignored. The caller releases the result. Errors name the field.
func conform(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, schema *arrow.Schema) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, f := range schema.Fields() {
		idx := rec.Schema().FieldIndices(f.Name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("field %q: %d columns of that name in the partition (schema %s)", f.Name, len(idx), rec.Schema())
		}
		col := rec.Column(idx[0])
		if arrow.TypeEqual(col.DataType(), f.Type) {
			col.Retain()
		} else if dt, ok := f.Type.(*arrow.DictionaryType); ok && arrow.TypeEqual(col.DataType(), dt.ValueType) {
			// Dictionary-encode the values (arrow compute casts no type
			// to a dictionary): CSV and JSONL read a declared
			// dictionary[string] field as strings.
			enc, err := dictionaryEncode(mem, dt, col)
			if err != nil {
				return nil, fmt.Errorf("field %q: dictionary-encode %s: %w", f.Name, col.DataType(), err)
			}
			col = enc
		} else {
			cast, err := compute.CastToType(compute.WithAllocator(ctx, mem), col, f.Type)
			if err != nil {
				return nil, fmt.Errorf("field %q: partition has %s, want %s: %w", f.Name, col.DataType(), f.Type, err)
			}
			col = cast
		}
		cols[i] = col
		if !f.Nullable && col.NullN() > 0 {
			return nil, fmt.Errorf("field %q is not nullable and has %d nulls", f.Name, col.NullN())
		}
	}
	return array.NewRecordBatch(schema, cols, rec.NumRows()), nil
}

// dictionaryEncode returns values encoded as dictionary type dt (values'
// type is dt's value type); the caller releases it.
func dictionaryEncode(mem memory.Allocator, dt *arrow.DictionaryType, values arrow.Array) (arrow.Array, error) {
	b := array.NewDictionaryBuilder(mem, dt)
	defer b.Release()
	if err := b.AppendArray(values); err != nil {
		return nil, err
	}
	return b.NewArray(), nil
}
