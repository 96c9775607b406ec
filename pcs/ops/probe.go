package ops

import (
	"encoding/binary"
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
	shorts wordIndex
	longs  map[string]int64
}

// maxPacked is the longest string packString packs.
const maxPacked = 7

// packString packs s (len(s) <= maxPacked) into a uint64, injectively and
// never 0: the bytes little-endian in the low 56 bits, the length + 1 in
// the top 8.
func packString(s string) uint64 {
	v := uint64(len(s)+1) << 56
	for i := 0; i < len(s); i++ {
		v |= uint64(s[i]) << (8 * i)
	}
	return v
}

// addString indexes string key s at row; dup is the row already there.
func (o *oneKey) addString(s string, row int64) (dup int64, isDup bool) {
	if len(s) <= maxPacked {
		return o.shorts.add(packString(s), row)
	}
	if dup, isDup = o.longs[s]; !isDup {
		o.longs[s] = row
	}
	return dup, isDup
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
		o.shorts, o.longs = newWordIndex(n), map[string]int64{}
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
		probeStrings(o, a, a.ValueOffsets(), valueData(a), rows)
	case *array.LargeString:
		probeStrings(o, a, a.ValueOffsets(), valueData(a), rows)
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

// valueData is the whole data buffer of a string array, which its
// offsets index (ValueBytes is cut to the array's values and rebased).
func valueData(a arrow.Array) []byte {
	if b := a.Data().Buffers()[2]; b != nil {
		return b.Bytes()
	}
	return nil
}

// probeStrings probes the strings of a, whose offsets (len(rows)+1,
// from the array's offset on) index data. A short value with 8 bytes of
// data from its start is packed from one 8-byte load.
func probeStrings[O int32 | int64](o *oneKey, a arrow.Array, offs []O, data []byte, rows []int64) {
	nulls := a.NullN() > 0
	for i := range rows {
		rows[i] = -1
		if nulls && a.IsNull(i) {
			continue
		}
		lo, hi := int(offs[i]), int(offs[i+1])
		n := hi - lo
		if n > maxPacked {
			if r, found := o.longs[string(data[lo:hi])]; found {
				rows[i] = r
			}
			continue
		}
		var k uint64
		if lo+8 <= len(data) {
			k = binary.LittleEndian.Uint64(data[lo:]) & (1<<(8*n) - 1)
			k |= uint64(n+1) << 56
		} else {
			k = packString(string(data[lo:hi]))
		}
		if r, found := o.shorts.find(k); found {
			rows[i] = r
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

// wordIndex is an open-addressing hash table from non-zero uint64 keys
// (packed strings) to rows: Fibonacci hashing, linear probing, sized at
// least twice the keys it is made for. Probing one costs a multiply and, mostly, one cache line,
// about a quarter of a Go map access on the flights lookups.
type wordIndex struct {
	keys  []uint64 // 0: empty slot
	rows  []int64
	shift uint
}

func newWordIndex(n int) wordIndex {
	size, shift := 16, uint(60)
	for size < 2*n {
		size, shift = 2*size, shift-1
	}
	return wordIndex{keys: make([]uint64, size), rows: make([]int64, size), shift: shift}
}

func (w *wordIndex) slot(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> w.shift }

// add puts k -> row unless k is there: then it returns the row there.
// The table holds at most the n keys it was made for.
func (w *wordIndex) add(k uint64, row int64) (dup int64, isDup bool) {
	mask := uint64(len(w.keys) - 1)
	for i := w.slot(k); ; i = (i + 1) & mask {
		switch w.keys[i] {
		case k:
			return w.rows[i], true
		case 0:
			w.keys[i], w.rows[i] = k, row
			return 0, false
		}
	}
}

func (w *wordIndex) find(k uint64) (int64, bool) {
	mask := uint64(len(w.keys) - 1)
	for i := w.slot(k); ; i = (i + 1) & mask {
		switch w.keys[i] {
		case k:
			return w.rows[i], true
		case 0:
			return 0, false
		}
	}
}
