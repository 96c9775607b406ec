package window

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Group-by, the general path (keys.go has the fast paths of one string or
// dictionary key): key columns of a batch are encoded column at a time into one
// byte string per row (per column: a validity byte, then 8 little-endian
// bytes for integers and timestamps, 1 for bools, the bytes of a string,
// length-prefixed unless it is the last column). Optionally an 8-byte
// prefix (the pane start) comes first. Rows are hashed with xxh3 and
// looked up in keyIndex, an open-addressing table that gives every
// distinct key a dense group id. Aggregates then run per aggregate over
// the group id vector in tight typed loops (agg.go).

type keyKind uint8

const (
	keyInt keyKind = iota + 1
	keyUint
	keyBool
	keyString
)

type keyCol struct {
	name string
	idx  int            // column index in the input schema
	in   arrow.DataType // input type
	out  arrow.DataType // output type (dictionary<string> -> its value type)
	kind keyKind
}

func keyColumn(schema *arrow.Schema, name string) (keyCol, error) {
	idx := schema.FieldIndices(name)
	if len(idx) == 0 {
		return keyCol{}, fmt.Errorf("%w: key column %q", ErrUnknownColumn, name)
	}
	dt := schema.Field(idx[0]).Type
	k := keyCol{name: name, idx: idx[0], in: dt, out: dt}
	switch t := dt.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type,
		*arrow.TimestampType, *arrow.Date32Type, *arrow.Date64Type, *arrow.DurationType:
		k.kind = keyInt
	case *arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type, *arrow.Uint64Type:
		k.kind = keyUint
	case *arrow.BooleanType:
		k.kind = keyBool
	case *arrow.StringType, *arrow.LargeStringType:
		k.kind = keyString
	case *arrow.DictionaryType:
		switch t.ValueType.(type) {
		case *arrow.StringType, *arrow.LargeStringType:
			k.kind, k.out = keyString, t.ValueType
		}
	}
	if k.kind == 0 {
		return keyCol{}, fmt.Errorf("%w: key column %q is %s (want string, integer, bool or timestamp)", ErrType, name, dt)
	}
	return k, nil
}

// keyEncoder encodes the key columns of a batch into rows of bytes.
type keyEncoder struct {
	cols    []keyCol
	buf     []byte
	offs    []int32 // row i is buf[offs[i]:offs[i+1]]
	hash    []uint64
	ints    []int64
	scratch [][]string
}

// encode fills e.buf, e.offs and e.hash for the n rows of arrs (one array
// per key column). prefix, if not nil, is written first in every row.
func (e *keyEncoder) encode(arrs []arrow.Array, prefix []int64, n int) {
	e.offs = grow(e.offs, n+1)
	base := int32(0)
	if prefix != nil {
		base = 8
	}
	if len(e.scratch) != len(e.cols) {
		e.scratch = make([][]string, len(e.cols))
	}
	strs := e.scratch
	for c, k := range e.cols {
		switch k.kind {
		case keyInt, keyUint:
			base += 9
		case keyBool:
			base += 2
		case keyString:
			base++
			if c < len(e.cols)-1 {
				base += 4
			}
		}
	}
	for i := range e.offs {
		e.offs[i] = base
	}
	for c, k := range e.cols {
		if k.kind != keyString {
			continue
		}
		s := stringsOf(arrs[c], strs[c])
		strs[c] = s
		for i, v := range s {
			e.offs[i] += int32(len(v))
		}
	}
	// lengths -> offsets
	total := int32(0)
	for i := 0; i < n; i++ {
		l := e.offs[i]
		e.offs[i] = total
		total += l
	}
	e.offs[n] = total
	e.buf = grow(e.buf, int(total))
	pos := e.ints[:0]
	pos = grow(pos, n)
	for i := range pos {
		pos[i] = int64(e.offs[i])
	}
	buf := e.buf
	if prefix != nil {
		for i, p := range prefix[:n] {
			binary.LittleEndian.PutUint64(buf[pos[i]:], uint64(p))
			pos[i] += 8
		}
	}
	for c, k := range e.cols {
		a := arrs[c]
		nulls := a.NullN() > 0
		switch k.kind {
		case keyInt, keyUint:
			var v []int64
			if k.kind == keyInt {
				v = int64s(a, nil)
			} else {
				u := uint64s(a, nil)
				v = unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(u))), len(u))
			}
			for i := 0; i < n; i++ {
				p := pos[i]
				if nulls && a.IsNull(i) {
					buf[p] = 0
					binary.LittleEndian.PutUint64(buf[p+1:], 0)
				} else {
					buf[p] = 1
					binary.LittleEndian.PutUint64(buf[p+1:], uint64(v[i]))
				}
				pos[i] = p + 9
			}
		case keyBool:
			b := a.(*array.Boolean)
			for i := 0; i < n; i++ {
				p := pos[i]
				buf[p], buf[p+1] = 0, 0
				if !nulls || !a.IsNull(i) {
					buf[p] = 1
					if b.Value(i) {
						buf[p+1] = 1
					}
				}
				pos[i] = p + 2
			}
		case keyString:
			last := c == len(e.cols)-1
			for i, s := range strs[c] {
				p := pos[i]
				buf[p] = 1
				if nulls && a.IsNull(i) {
					buf[p] = 0
				}
				p++
				if !last {
					binary.LittleEndian.PutUint32(buf[p:], uint32(len(s)))
					p += 4
				}
				p += int64(copy(buf[p:], s))
				pos[i] = p
			}
		}
	}
	e.ints = pos
	e.hash = grow(e.hash, n)
	single := prefix == nil && singleString(e.cols)
	for i := range e.hash {
		e.hash[i] = keyHash(single, buf[e.offs[i]:e.offs[i+1]])
	}
}

func (e *keyEncoder) row(i int) []byte { return e.buf[e.offs[i]:e.offs[i+1]] }

// decode appends the key encoded in b (without prefix) to the builders.
func decodeKey(cols []keyCol, b []byte, bs []array.Builder) {
	for c, k := range cols {
		valid := b[0] == 1
		b = b[1:]
		switch k.kind {
		case keyInt, keyUint:
			v := binary.LittleEndian.Uint64(b)
			b = b[8:]
			if !valid {
				bs[c].AppendNull()
			} else if k.kind == keyInt {
				appendInt(bs[c], int64(v))
			} else {
				appendUint(bs[c], v)
			}
		case keyBool:
			v := b[0] == 1
			b = b[1:]
			if !valid {
				bs[c].AppendNull()
			} else {
				bs[c].(*array.BooleanBuilder).Append(v)
			}
		case keyString:
			l := len(b)
			if c < len(cols)-1 {
				l = int(binary.LittleEndian.Uint32(b))
				b = b[4:]
			}
			if !valid {
				bs[c].AppendNull()
			} else {
				appendString(bs[c], unsafe.String(unsafe.SliceData(b), l))
			}
			b = b[l:]
		}
	}
}

// keyIndex maps encoded keys to dense ids 0, 1, 2, ... in order of first
// insertion. It copies the key bytes it keeps.
type keyIndex struct {
	table  []int32 // id+1; 0 is empty
	mask   uint64
	hashes []uint64
	offs   []int32 // id i's key is arena[offs[i]:offs[i+1]]
	arena  []byte
}

func (x *keyIndex) len() int { return len(x.hashes) }

func (x *keyIndex) reset() {
	clear(x.table)
	x.hashes = x.hashes[:0]
	x.offs = append(x.offs[:0], 0)
	x.arena = x.arena[:0]
}

func (x *keyIndex) key(id int32) []byte { return x.arena[x.offs[id]:x.offs[id+1]] }

// find returns the id of key (hash h), inserting it if new.
func (x *keyIndex) find(key []byte, h uint64) int32 {
	if len(x.table) == 0 || 2*len(x.hashes) >= len(x.table) {
		x.rehash()
	}
	i := h & x.mask
	for {
		e := x.table[i]
		if e == 0 {
			id := int32(len(x.hashes))
			x.table[i] = id + 1
			x.hashes = append(x.hashes, h)
			if len(x.offs) == 0 {
				x.offs = append(x.offs, 0)
			}
			x.arena = append(x.arena, key...)
			x.offs = append(x.offs, int32(len(x.arena)))
			return id
		}
		id := e - 1
		if x.hashes[id] == h && bytes.Equal(x.arena[x.offs[id]:x.offs[id+1]], key) {
			return id
		}
		i = (i + 1) & x.mask
	}
}

func (x *keyIndex) rehash() {
	n := max(64, 4*len(x.hashes))
	size := 1
	for size < n {
		size <<= 1
	}
	x.table = make([]int32, size)
	x.mask = uint64(size - 1)
	for id, h := range x.hashes {
		i := h & x.mask
		for x.table[i] != 0 {
			i = (i + 1) & x.mask
		}
		x.table[i] = int32(id) + 1
	}
}

// --- typed column access ------------------------------------------------

// int64s returns the values of a signed-integer-like column as int64. For
// int64 columns it is the column's own buffer (read only); otherwise the
// values are converted into dst (grown as needed).
func int64s(a arrow.Array, dst []int64) []int64 {
	switch a := a.(type) {
	case *array.Int64:
		return a.Int64Values()
	case *array.Int32:
		return conv(a.Int32Values(), dst)
	case *array.Int16:
		return conv(a.Int16Values(), dst)
	case *array.Int8:
		return conv(a.Int8Values(), dst)
	case *array.Timestamp:
		return conv(a.TimestampValues(), dst)
	case *array.Date32:
		return conv(a.Date32Values(), dst)
	case *array.Date64:
		return conv(a.Date64Values(), dst)
	case *array.Duration:
		return conv(a.DurationValues(), dst)
	case *array.Uint8, *array.Uint16, *array.Uint32, *array.Uint64:
		return conv(uint64s(a, nil), dst)
	}
	panic(fmt.Sprintf("window: int64s of %s", a.DataType()))
}

func uint64s(a arrow.Array, dst []uint64) []uint64 {
	switch a := a.(type) {
	case *array.Uint64:
		return a.Uint64Values()
	case *array.Uint32:
		return conv(a.Uint32Values(), dst)
	case *array.Uint16:
		return conv(a.Uint16Values(), dst)
	case *array.Uint8:
		return conv(a.Uint8Values(), dst)
	}
	panic(fmt.Sprintf("window: uint64s of %s", a.DataType()))
}

func float64s(a arrow.Array, dst []float64) []float64 {
	switch a := a.(type) {
	case *array.Float64:
		return a.Float64Values()
	case *array.Float32:
		return conv(a.Float32Values(), dst)
	case *array.Uint8, *array.Uint16, *array.Uint32, *array.Uint64:
		return conv(uint64s(a, nil), dst)
	default:
		return conv(int64s(a, nil), dst)
	}
}

// stringsOf returns the values of a string, large_string or
// dictionary<string> column. The strings point into the column's buffers:
// valid while the column lives. Null rows are "".
func stringsOf(a arrow.Array, dst []string) []string {
	dst = grow(dst, a.Len())
	switch a := a.(type) {
	case *array.String:
		offs, data := a.ValueOffsets(), a.ValueBytes()
		for i := range dst {
			dst[i] = bstr(data[offs[i]-offs[0] : offs[i+1]-offs[0]])
		}
		blankNulls(a, dst)
	case *array.LargeString:
		offs, data := a.ValueOffsets(), a.ValueBytes()
		for i := range dst {
			dst[i] = bstr(data[offs[i]-offs[0] : offs[i+1]-offs[0]])
		}
		blankNulls(a, dst)
	case *array.Dictionary:
		dict := stringsOf(a.Dictionary(), nil)
		for i := range dst {
			if a.IsValid(i) {
				dst[i] = dict[a.GetValueIndex(i)]
			} else {
				dst[i] = ""
			}
		}
	default:
		panic(fmt.Sprintf("window: strings of %s", a.DataType()))
	}
	return dst
}

func blankNulls(a arrow.Array, dst []string) {
	if a.NullN() == 0 {
		return
	}
	for i := range dst {
		if a.IsNull(i) {
			dst[i] = ""
		}
	}
}

func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

type number interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

func conv[S, D number](src []S, dst []D) []D {
	dst = grow(dst, len(src))
	for i, v := range src {
		dst[i] = D(v)
	}
	return dst
}

// --- typed appends to builders of the original types ----------------------

func appendInt(b array.Builder, v int64) {
	switch b := b.(type) {
	case *array.Int64Builder:
		b.Append(v)
	case *array.Int32Builder:
		b.Append(int32(v))
	case *array.Int16Builder:
		b.Append(int16(v))
	case *array.Int8Builder:
		b.Append(int8(v))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v))
	case *array.Date32Builder:
		b.Append(arrow.Date32(v))
	case *array.Date64Builder:
		b.Append(arrow.Date64(v))
	case *array.DurationBuilder:
		b.Append(arrow.Duration(v))
	default:
		appendUint(b, uint64(v))
	}
}

func appendUint(b array.Builder, v uint64) {
	switch b := b.(type) {
	case *array.Uint64Builder:
		b.Append(v)
	case *array.Uint32Builder:
		b.Append(uint32(v))
	case *array.Uint16Builder:
		b.Append(uint16(v))
	case *array.Uint8Builder:
		b.Append(uint8(v))
	case *array.Int64Builder:
		b.Append(int64(v))
	default:
		panic(fmt.Sprintf("window: appendUint to %T", b))
	}
}

func appendFloat(b array.Builder, v float64) {
	switch b := b.(type) {
	case *array.Float64Builder:
		b.Append(v)
	case *array.Float32Builder:
		b.Append(float32(v))
	default:
		panic(fmt.Sprintf("window: appendFloat to %T", b))
	}
}

func appendString(b array.Builder, v string) {
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append(v)
	case *array.LargeStringBuilder:
		b.Append(v)
	default:
		panic(fmt.Sprintf("window: appendString to %T", b))
	}
}

// stateSet is the states of every aggregate over slots [0, n).
type stateSet struct {
	st []state
	n  int
}

func newStateSet(defs []*aggDef) stateSet {
	s := stateSet{st: make([]state, len(defs))}
	for a, d := range defs {
		s.st[a] = d.mk(d)
	}
	return s
}

// ensure makes slots [0, n) usable.
func (s *stateSet) ensure(n int) {
	if n > s.n {
		for _, st := range s.st {
			st.grow(n)
		}
		s.n = n
	}
}

// mergeSlot folds slot i of src into slot dst.
func (s *stateSet) mergeSlot(dst int32, src *stateSet, i int32) {
	for a, st := range s.st {
		st.merge(dst, src.st[a], i)
	}
}

func (s *stateSet) resetSlot(slot int32) {
	for _, st := range s.st {
		st.reset(slot)
	}
}

// clear empties every slot and sets n to 0 (the memory is kept).
func (s *stateSet) clear() {
	for i := 0; i < s.n; i++ {
		s.resetSlot(int32(i))
	}
	s.n = 0
}

// mergePartialRow folds row of a partial batch (state columns from col
// start on, in aggregate order) into slot dst.
func (s *stateSet) mergePartialRow(defs []*aggDef, cols []arrow.Array, row int, dst int32) {
	c := 0
	for a, d := range defs {
		s.st[a].mergePartial(cols[c:c+len(d.pfields)], row, dst)
		c += len(d.pfields)
	}
}

// appendPartial appends slot's states to bs, in aggregate order.
func (s *stateSet) appendPartial(defs []*aggDef, bs []array.Builder, slot int32) {
	c := 0
	for a, d := range defs {
		s.st[a].partial(bs[c:c+len(d.pfields)], slot)
		c += len(d.pfields)
	}
}

// table is a keyed stateSet: slot i holds the key idx.key(i).
type table struct {
	idx keyIndex
	stateSet
}

func newTable(defs []*aggDef) *table { return &table{stateSet: newStateSet(defs)} }

// slot returns the slot of key, creating it (empty) if new. The states
// grow by doubling (slots past the keys stay empty), not slot by slot.
func (t *table) slot(key []byte, h uint64) int32 {
	id := t.idx.find(key, h)
	if int(id) >= t.n {
		t.ensure(max(int(id)+1, 2*t.n, 16))
	}
	return id
}

func (t *table) reset() {
	t.idx.reset()
	t.clear()
}
