package ops

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// oneKey is the index of a table with one key column, by value: the
// common case (a code, an id) probed without encoding a key tuple per
// row. Integer keys are int64 map keys; string keys of up to 7 bytes are
// packed into a uint64 (length in the top byte), which Go's maps hash and
// compare as one word; longer strings are string map keys. Integers
// match by value across types, as in the encoded index: uint64 values
// above math.MaxInt64, which no signed key equals, are kept apart.
type oneKey struct {
	ints   map[int64]int64
	bigs   map[uint64]int64
	shorts map[uint64]int64
	longs  map[string]int64
}

// maxPacked is the longest string packString packs.
const maxPacked = 7

// packString packs s (len(s) <= maxPacked) into a uint64, injectively:
// the bytes little-endian in the low 56 bits, the length in the top 8.
func packString(s string) uint64 {
	v := uint64(len(s)) << 56
	for i := 0; i < len(s); i++ {
		v |= uint64(s[i]) << (8 * i)
	}
	return v
}

// addString indexes string key s at row; dup is the row already there.
func (o *oneKey) addString(s string, row int64) (dup int64, isDup bool) {
	if len(s) <= maxPacked {
		k := packString(s)
		if dup, isDup = o.shorts[k]; !isDup {
			o.shorts[k] = row
		}
		return dup, isDup
	}
	if dup, isDup = o.longs[s]; !isDup {
		o.longs[s] = row
	}
	return dup, isDup
}

func (o *oneKey) findString(s string) (int64, bool) {
	if len(s) <= maxPacked {
		r, ok := o.shorts[packString(s)]
		return r, ok
	}
	r, ok := o.longs[s]
	return r, ok
}

func (o *oneKey) findInt(a arrow.Array, i int) (int64, bool) {
	if v, fits := intValue(a, i); fits {
		r, ok := o.ints[v]
		return r, ok
	}
	r, ok := o.bigs[a.(*array.Uint64).Value(i)]
	return r, ok
}

// newOneKey indexes the single key column a (string, large_string or
// integer: see kindOf). Nulls are not indexed. Two rows with the same key
// return ErrDuplicateKey.
func newOneKey(a arrow.Array) (*oneKey, error) {
	if _, err := newKeyCol(a); err != nil { // the type check of the encoded index
		return nil, err
	}
	n := a.Len()
	o := &oneKey{}
	dup := func(j int64, i int) error { return fmt.Errorf("%w: rows %d and %d", ErrDuplicateKey, j, i) }
	if str, ok := stringValues(a); ok {
		o.shorts, o.longs = make(map[uint64]int64, n), map[string]int64{}
		for i := 0; i < n; i++ {
			if a.IsValid(i) {
				if j, d := o.addString(str(i), int64(i)); d {
					return nil, dup(j, i)
				}
			}
		}
		return o, nil
	}
	o.ints, o.bigs = make(map[int64]int64, n), map[uint64]int64{}
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			continue
		}
		if j, d := o.findInt(a, i); d {
			return nil, dup(j, i)
		}
		if v, fits := intValue(a, i); fits {
			o.ints[v] = int64(i)
		} else {
			o.bigs[a.(*array.Uint64).Value(i)] = int64(i)
		}
	}
	return o, nil
}

// stringValues returns the accessor of a string or large_string array.
func stringValues(a arrow.Array) (func(int) string, bool) {
	switch a := a.(type) {
	case *array.String:
		return a.Value, true
	case *array.LargeString:
		return a.Value, true
	}
	return nil, false
}

// intValue returns row i of integer array a as an int64; fits is false
// for a uint64 above math.MaxInt64 (and for a non-integer array).
func intValue(a arrow.Array, i int) (v int64, fits bool) {
	switch a := a.(type) {
	case *array.Int8:
		return int64(a.Value(i)), true
	case *array.Int16:
		return int64(a.Value(i)), true
	case *array.Int32:
		return int64(a.Value(i)), true
	case *array.Int64:
		return a.Value(i), true
	case *array.Uint8:
		return int64(a.Value(i)), true
	case *array.Uint16:
		return int64(a.Value(i)), true
	case *array.Uint32:
		return int64(a.Value(i)), true
	case *array.Uint64:
		u := a.Value(i)
		return int64(u), u <= math.MaxInt64
	}
	return 0, false
}

// probe sets rows[i] to the table row of row i of the key columns keys
// (len(rows) rows), or to -1 where a key is null or not in the table.
func (t *Table) probe(keys []arrow.Array, rows []int64) error {
	if t.one != nil {
		t.one.probe(keys[0], rows)
		return nil
	}
	enc, err := keyCols(keys)
	if err != nil {
		return err
	}
	var buf []byte
	for i := range rows {
		rows[i] = -1
		var ok bool
		if buf, ok = encodeKey(enc, buf, i); ok {
			if r, found := t.index[string(buf)]; found {
				rows[i] = r
			}
		}
	}
	return nil
}

func (o *oneKey) probe(a arrow.Array, rows []int64) {
	switch a := a.(type) {
	case *array.String:
		probeStrings(o, a, rows)
	case *array.LargeString:
		probeStrings(o, a, rows)
	case *array.Int64:
		probeInts(o, a, a.Int64Values(), rows)
	case *array.Int32:
		probeInts(o, a, a.Int32Values(), rows)
	default:
		for i := range rows {
			rows[i] = -1
			if a.IsValid(i) {
				if r, found := o.findInt(a, i); found {
					rows[i] = r
				}
			}
		}
	}
}

func probeStrings(o *oneKey, a valuer[string], rows []int64) {
	for i := range rows {
		rows[i] = -1
		if a.IsValid(i) {
			if r, found := o.findString(a.Value(i)); found {
				rows[i] = r
			}
		}
	}
}

func probeInts[T int32 | int64](o *oneKey, a arrow.Array, vals []T, rows []int64) {
	for i := range rows {
		rows[i] = -1
		if a.IsValid(i) {
			if r, found := o.ints[int64(vals[i])]; found {
				rows[i] = r
			}
		}
	}
}
