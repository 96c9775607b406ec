// Package plain decodes dictionary-encoded columns for sinks whose format
// has no dictionaries (CSV, JSON Lines): Schema gives the schema they
// write, Record the batch with every dictionary column replaced by its
// values.
package plain

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Schema returns s with each dictionary field's type replaced by its
// value type (metadata kept); s itself when it has none.
func Schema(s *arrow.Schema) *arrow.Schema {
	fields := s.Fields()
	changed := false
	for i, f := range fields {
		if d, ok := f.Type.(*arrow.DictionaryType); ok {
			fields[i].Type = d.ValueType
			changed = true
		}
	}
	if !changed {
		return s
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

// Record returns rec with each dictionary column replaced by its values
// gathered by index (arrow-go's take kernel), over schema (Schema of
// rec's). Without dictionary columns it returns rec retained. The caller
// releases the result.
func Record(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, schema *arrow.Schema) (arrow.RecordBatch, error) {
	if schema == rec.Schema() {
		rec.Retain()
		return rec, nil
	}
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, c := range rec.Columns() {
		d, ok := c.(*array.Dictionary)
		if !ok {
			c.Retain()
			cols[i] = c
			continue
		}
		v, err := compute.TakeArray(compute.WithAllocator(ctx, mem), d.Dictionary(), d.Indices())
		if err != nil {
			return nil, err
		}
		cols[i] = v
	}
	return array.NewRecordBatch(schema, cols, rec.NumRows()), nil
}
