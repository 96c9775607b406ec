package main

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/zeebo/xxh3"
)

// rowHashes returns one 64-bit hash per row of the Parquet file at path,
// over every column (values and nulls), sorted: two files hold the same
// rows in any order exactly when their schemas and sorted hashes are
// equal (up to hash collisions, ~n²/2^65).
func rowHashes(ctx context.Context, path string) (*arrow.Schema, []uint64, error) {
	var schema *arrow.Schema
	var out []uint64
	err := eachBatch(ctx, path, nil, func(rec arrow.RecordBatch) error {
		if schema == nil {
			schema = rec.Schema()
		}
		h := make([]uint64, rec.NumRows())
		for c, col := range rec.Columns() {
			if err := mixColumn(h, col, uint64(c)+1); err != nil {
				return fmt.Errorf("%s: column %q: %w", path, rec.ColumnName(c), err)
			}
		}
		out = append(out, h...)
		return nil
	})
	slices.Sort(out)
	return schema, out, err
}

// mixColumn folds each row's value of col into h[row].
func mixColumn(h []uint64, col arrow.Array, salt uint64) error {
	const null = 0x9e3779b97f4a7c15
	mix := func(i int, v uint64) { h[i] = (h[i]^(v+salt))*0xff51afd7ed558ccd + salt }
	var value func(i int) uint64
	switch a := col.(type) {
	case *array.Int64:
		value = func(i int) uint64 { return uint64(a.Value(i)) }
	case *array.Timestamp:
		value = func(i int) uint64 { return uint64(a.Value(i)) }
	case *array.Float64:
		value = func(i int) uint64 { return math.Float64bits(a.Value(i)) }
	case *array.Boolean:
		value = func(i int) uint64 {
			if a.Value(i) {
				return 1
			}
			return 2
		}
	case *array.String:
		value = func(i int) uint64 { return xxh3.HashString(a.Value(i)) }
	case *array.LargeString:
		value = func(i int) uint64 { return xxh3.HashString(a.Value(i)) }
	case *array.Dictionary:
		get, ok := stringValues(a)
		if !ok {
			return fmt.Errorf("unsupported dictionary %s", a.DataType())
		}
		value = func(i int) uint64 { s, _ := get(i); return xxh3.HashString(s) }
	default:
		return fmt.Errorf("unsupported type %s", col.DataType())
	}
	for i := range h {
		if col.IsNull(i) {
			mix(i, null)
		} else {
			mix(i, value(i))
		}
	}
	return nil
}

// sameRows reports whether the Parquet files a and b hold the same rows
// (any order) and how many.
func sameRows(ctx context.Context, a, b string) (int, error) {
	sa, ha, err := rowHashes(ctx, a)
	if err != nil {
		return 0, err
	}
	sb, hb, err := rowHashes(ctx, b)
	if err != nil {
		return 0, err
	}
	if sa == nil || sb == nil || !sa.Equal(sb) {
		return 0, fmt.Errorf("schemas differ:\n%s: %v\n%s: %v", a, sa, b, sb)
	}
	if len(ha) != len(hb) {
		return 0, fmt.Errorf("%s has %d rows, %s %d", a, len(ha), b, len(hb))
	}
	for i := range ha {
		if ha[i] != hb[i] {
			return 0, fmt.Errorf("%s and %s have the same row count (%d) but different rows", a, b, len(ha))
		}
	}
	return len(ha), nil
}
