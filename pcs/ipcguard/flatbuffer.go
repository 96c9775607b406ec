package ipcguard

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// fbuf reads one flatbuffer (a message's metadata or a file footer) the
// way flatbuffers-go does, but checks every read against the buffer and
// counts the work a decoder would do on what it reads. Positions are byte
// offsets into b. Its methods return errors without ErrCorrupt: the
// checker wraps them with the place they were found.
type fbuf struct {
	b []byte
	// items is how many more Field tables and KeyValue entries may be
	// visited (decoded) in b: a quarter of its size, which a valid
	// buffer, storing each at least 8 bytes apart, never reaches. A
	// vector of children or custom metadata shared by many fields would
	// otherwise make arrow-go decode it once per field: quadratic.
	items int
	// strBytes is how many more string bytes (names, keys, values, time
	// zones) may be referenced; arrow-go copies every one of them.
	strBytes int64
}

// Unshared strings are disjoint parts of their buffer, so they total less
// than its size; the budget leaves a writer that shares strings four
// times the buffer, plus 16 MiB.
const (
	strBudgetFactor = 4
	strBudgetExtra  = 16 << 20
)

func newFbuf(b []byte) *fbuf {
	return &fbuf{b: b, items: len(b) / 4, strBytes: strBudgetFactor*int64(len(b)) + strBudgetExtra}
}

var errOverrun = errors.New("read past the end of the flatbuffer")

func (f *fbuf) overrun(pos int64, n int) error {
	return fmt.Errorf("%w: %d bytes at offset %d of %d", errOverrun, n, pos, len(f.b))
}

// u32 reads the little-endian uint32 at pos.
func (f *fbuf) u32(pos int64) (uint32, error) {
	if pos < 0 || pos+4 > int64(len(f.b)) {
		return 0, f.overrun(pos, 4)
	}
	return binary.LittleEndian.Uint32(f.b[pos:]), nil
}

// ref follows the uoffset stored at pos. flatbuffers-go adds it to pos
// modulo 2^32, so an offset past the end of the buffer wraps around to an
// earlier position: a backward reference, with which a field can be its
// own child. Writers only write forward references; ref refuses any
// offset that does not land inside the buffer.
func (f *fbuf) ref(pos int64) (int64, error) {
	off, err := f.u32(pos)
	if err != nil {
		return 0, err
	}
	if t := pos + int64(off); t < int64(len(f.b)) {
		return t, nil
	}
	return 0, fmt.Errorf("offset %d at %d points past the end of the %d-byte flatbuffer", off, pos, len(f.b))
}

// table is a checked flatbuffer table: its position and vtable.
type table struct {
	pos    int64
	vt     int64 // vtable position
	slots  int   // number of field slots in the vtable
	size   int64 // inline size of the table
	absent bool  // the table is not there (an absent optional field)
}

// table checks the table at pos: its vtable and its inline part lie in
// the buffer, and so does every field slot the vtable lists.
func (f *fbuf) table(pos int64) (table, error) {
	so, err := f.u32(pos)
	if err != nil {
		return table{}, err
	}
	vt := pos - int64(int32(so))
	if vt < 0 || vt+4 > int64(len(f.b)) {
		return table{}, fmt.Errorf("vtable of the table at %d out of the %d-byte flatbuffer", pos, len(f.b))
	}
	vtSize := int64(binary.LittleEndian.Uint16(f.b[vt:]))
	tSize := int64(binary.LittleEndian.Uint16(f.b[vt+2:]))
	if vtSize < 4 || vtSize%2 != 0 || vt+vtSize > int64(len(f.b)) || pos+tSize > int64(len(f.b)) {
		return table{}, fmt.Errorf("malformed vtable at %d (size %d, table size %d) in a %d-byte flatbuffer", vt, vtSize, tSize, len(f.b))
	}
	return table{pos: pos, vt: vt, slots: int(vtSize-4) / 2, size: tSize}, nil
}

// field returns the position of field slot i of t, or 0 if t lacks it.
// The position lies in t's inline part (within the buffer).
func (f *fbuf) field(t table, i int) (int64, error) {
	if t.absent || i >= t.slots {
		return 0, nil
	}
	off := int64(binary.LittleEndian.Uint16(f.b[t.vt+4+2*int64(i):]))
	if off == 0 {
		return 0, nil
	}
	if off >= t.size {
		return 0, fmt.Errorf("field %d of the table at %d at offset %d, past its size %d", i, t.pos, off, t.size)
	}
	return t.pos + off, nil
}

// byteField returns the ubyte field slot i of t, 0 if absent.
func (f *fbuf) byteField(t table, i int) (byte, error) {
	p, err := f.field(t, i)
	if err != nil || p == 0 {
		return 0, err
	}
	return f.b[p], nil
}

// int64Field returns the int64 field slot i of t, 0 if absent.
func (f *fbuf) int64Field(t table, i int) (int64, error) {
	p, err := f.field(t, i)
	if err != nil || p == 0 {
		return 0, err
	}
	if p+8 > int64(len(f.b)) {
		return 0, f.overrun(p, 8)
	}
	return int64(binary.LittleEndian.Uint64(f.b[p:])), nil
}

// subtable checks the table referenced by field slot i of t; absent if t
// lacks the field.
func (f *fbuf) subtable(t table, i int) (table, error) {
	p, err := f.field(t, i)
	if err != nil || p == 0 {
		return table{absent: true}, err
	}
	pos, err := f.ref(p)
	if err != nil {
		return table{}, err
	}
	return f.table(pos)
}

// vector checks the vector referenced by field slot i of t, of elements
// of elem bytes, and returns the position of its first element and its
// length (0, 0 if t lacks the field).
func (f *fbuf) vector(t table, i int, elem int64) (start int64, n int, err error) {
	p, err := f.field(t, i)
	if err != nil || p == 0 {
		return 0, 0, err
	}
	v, err := f.ref(p)
	if err != nil {
		return 0, 0, err
	}
	count, err := f.u32(v)
	if err != nil {
		return 0, 0, err
	}
	if int64(count)*elem > int64(len(f.b))-v-4 {
		return 0, 0, fmt.Errorf("vector of %d %d-byte elements at %d overruns the %d-byte flatbuffer", count, elem, v, len(f.b))
	}
	return v + 4, int(count), nil
}

// str checks the string (or byte vector) field slot i of t, which a
// decoder copies, against the string budget.
func (f *fbuf) str(t table, i int) error {
	_, n, err := f.vector(t, i, 1)
	if err != nil {
		return err
	}
	if f.strBytes -= int64(n); f.strBytes < 0 {
		return fmt.Errorf("strings total more than %d times the %d-byte flatbuffer plus %d MiB (shared strings)", strBudgetFactor, len(f.b), strBudgetExtra>>20)
	}
	return nil
}

// visit takes one item (a Field table or a KeyValue entry) from the
// budget.
func (f *fbuf) visit() error {
	if f.items--; f.items < 0 {
		return fmt.Errorf("more fields and key-values than the %d-byte flatbuffer can hold (shared vectors)", len(f.b))
	}
	return nil
}

// tables checks the vector of tables of field slot i of t and calls fn
// on each element. Errors of the vector and its elements say name (and
// the element's index); fn adds its own context.
func (f *fbuf) tables(t table, i int, name string, fn func(k int, el table) error) error {
	start, n, err := f.vector(t, i, 4)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for k := 0; k < n; k++ {
		pos, err := f.ref(start + 4*int64(k))
		if err != nil {
			return fmt.Errorf("%s[%d]: %w", name, k, err)
		}
		el, err := f.table(pos)
		if err != nil {
			return fmt.Errorf("%s[%d]: %w", name, k, err)
		}
		if err := fn(k, el); err != nil {
			return err
		}
	}
	return nil
}
