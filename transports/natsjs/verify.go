package natsjs

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// verifyStream walks the messages of an Arrow IPC stream and checks the
// parts of their flatbuffer metadata that arrow-go v18.8.0 trusts without
// checks and that could otherwise crash the process rather than raise a
// recoverable panic: vector lengths it allocates by (schema fields, field
// children, key-value metadata, union type ids), field nesting depth and
// shared (cyclic) children, which would recurse without end, and the
// variadic buffer counts of view types, which size an allocation. Out of
// range reads are left to arrow-go, which recovers their panics.
//
// Framing problems (truncation, bad lengths) are also left to arrow-go:
// verifyStream stops at the first message it cannot frame.
func verifyStream(body []byte) error {
	pos := 0
	for n := 0; pos+4 <= len(body); n++ {
		msgLen := int64(binary.LittleEndian.Uint32(body[pos:]))
		pos += 4
		if msgLen == 0xFFFFFFFF {
			if pos+4 > len(body) {
				return nil
			}
			msgLen = int64(binary.LittleEndian.Uint32(body[pos:]))
			pos += 4
		}
		if msgLen == 0 || msgLen > int64(len(body)-pos) {
			return nil // end of stream, or arrow-go reports the framing error
		}
		meta := body[pos : pos+int(msgLen)]
		pos += int(msgLen)
		bodyLen, err := verifyMessage(meta)
		if err != nil {
			return fmt.Errorf("message %d: %w", n, err)
		}
		if bodyLen < 0 || bodyLen > int64(len(body)-pos) {
			return nil
		}
		pos += int(bodyLen)
	}
	return nil
}

// Flatbuffer verification helpers over one metadata buffer.
type fbuf struct {
	b      []byte
	fields int // Field tables visited, bounded by the buffer size
}

var errFB = errors.New("malformed flatbuffer")

func (f *fbuf) u32(pos int) (int, error) {
	if pos < 0 || pos+4 > len(f.b) {
		return 0, errFB
	}
	return int(binary.LittleEndian.Uint32(f.b[pos:])), nil
}

// table checks the table at pos and its vtable and returns the absolute
// positions of its fields (0 for absent ones).
func (f *fbuf) table(pos int) ([]int, error) {
	if pos < 0 || pos+4 > len(f.b) {
		return nil, errFB
	}
	vt := pos - int(int32(binary.LittleEndian.Uint32(f.b[pos:])))
	if vt < 0 || vt+4 > len(f.b) {
		return nil, errFB
	}
	vtSize := int(binary.LittleEndian.Uint16(f.b[vt:]))
	tSize := int(binary.LittleEndian.Uint16(f.b[vt+2:]))
	if vtSize < 4 || vtSize%2 != 0 || vt+vtSize > len(f.b) || pos+tSize > len(f.b) {
		return nil, errFB
	}
	slots := make([]int, (vtSize-4)/2)
	for i := range slots {
		off := int(binary.LittleEndian.Uint16(f.b[vt+4+2*i:]))
		if off == 0 {
			continue
		}
		if off >= tSize {
			return nil, errFB
		}
		slots[i] = pos + off
	}
	return slots, nil
}

func slot(slots []int, i int) int {
	if i < len(slots) {
		return slots[i]
	}
	return 0
}

// ref follows the uoffset stored at pos.
func (f *fbuf) ref(pos int) (int, error) {
	off, err := f.u32(pos)
	if err != nil {
		return 0, err
	}
	return pos + off, nil
}

// vector checks the vector referenced at pos (0: absent) and returns the
// position of its first element and its length.
func (f *fbuf) vector(pos, elemSize int) (start, n int, err error) {
	if pos == 0 {
		return 0, 0, nil
	}
	v, err := f.ref(pos)
	if err != nil {
		return 0, 0, err
	}
	n, err = f.u32(v)
	if err != nil {
		return 0, 0, err
	}
	if int64(n)*int64(elemSize) > int64(len(f.b)-v-4) {
		return 0, 0, fmt.Errorf("%w: vector of %d elements in %d bytes", errFB, n, len(f.b))
	}
	return v + 4, n, nil
}

// tables checks a vector of tables and calls fn on each.
func (f *fbuf) tables(pos int, fn func(slots []int) error) error {
	start, n, err := f.vector(pos, 4)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		t, err := f.ref(start + 4*i)
		if err != nil {
			return err
		}
		slots, err := f.table(t)
		if err != nil {
			return err
		}
		if err := fn(slots); err != nil {
			return err
		}
	}
	return nil
}

func (f *fbuf) subtable(pos int) ([]int, error) {
	if pos == 0 {
		return nil, nil
	}
	t, err := f.ref(pos)
	if err != nil {
		return nil, err
	}
	return f.table(t)
}

func (f *fbuf) keyValues(pos int) error {
	return f.tables(pos, func(kv []int) error {
		if _, _, err := f.vector(slot(kv, 0), 1); err != nil {
			return err
		}
		_, _, err := f.vector(slot(kv, 1), 1)
		return err
	})
}

// verifyMessage checks one Message table and returns its body length.
func verifyMessage(b []byte) (int64, error) {
	f := &fbuf{b: b}
	root, err := f.u32(0)
	if err != nil {
		return 0, err
	}
	msg, err := f.table(root)
	if err != nil {
		return 0, err
	}
	// Message: version 0, header_type 1, header 2, bodyLength 3, custom_metadata 4.
	if err := f.keyValues(slot(msg, 4)); err != nil {
		return 0, err
	}
	var bodyLen int64
	if p := slot(msg, 3); p != 0 {
		if p+8 > len(b) {
			return 0, errFB
		}
		bodyLen = int64(binary.LittleEndian.Uint64(b[p:]))
	}
	ht := slot(msg, 1)
	if ht == 0 || slot(msg, 2) == 0 {
		return bodyLen, nil
	}
	header, err := f.subtable(slot(msg, 2))
	if err != nil {
		return 0, err
	}
	switch b[ht] {
	case 1: // Schema: endianness 0, fields 1, custom_metadata 2, features 3
		if err := f.tables(slot(header, 1), func(field []int) error { return f.field(field, 0) }); err != nil {
			return 0, err
		}
		if err := f.keyValues(slot(header, 2)); err != nil {
			return 0, err
		}
		if _, _, err := f.vector(slot(header, 3), 8); err != nil {
			return 0, err
		}
	case 2: // DictionaryBatch: id 0, data 1, isDelta 2
		data, err := f.subtable(slot(header, 1))
		if err != nil {
			return 0, err
		}
		if err := f.recordBatch(data); err != nil {
			return 0, err
		}
	case 3: // RecordBatch
		if err := f.recordBatch(header); err != nil {
			return 0, err
		}
	}
	return bodyLen, nil
}

const maxFieldDepth = 64

// field checks a Field: name 0, nullable 1, type_type 2, type 3,
// dictionary 4, children 5, custom_metadata 6.
func (f *fbuf) field(slots []int, depth int) error {
	f.fields++
	if depth > maxFieldDepth {
		return fmt.Errorf("%w: fields nested deeper than %d", errFB, maxFieldDepth)
	}
	if f.fields > len(f.b)/4 {
		return fmt.Errorf("%w: more fields than the buffer can hold (shared children)", errFB)
	}
	if _, _, err := f.vector(slot(slots, 0), 1); err != nil {
		return err
	}
	if tt, tp := slot(slots, 2), slot(slots, 3); tt != 0 && tp != 0 {
		typ, err := f.subtable(tp)
		if err != nil {
			return err
		}
		switch f.b[tt] {
		case 10: // Timestamp: unit 0, timezone 1
			if _, _, err := f.vector(slot(typ, 1), 1); err != nil {
				return err
			}
		case 14: // Union: mode 0, typeIds 1
			if _, _, err := f.vector(slot(typ, 1), 4); err != nil {
				return err
			}
		}
	}
	dict, err := f.subtable(slot(slots, 4))
	if err != nil {
		return err
	}
	if _, err := f.subtable(slot(dict, 1)); err != nil { // indexType
		return err
	}
	if err := f.tables(slot(slots, 5), func(child []int) error { return f.field(child, depth+1) }); err != nil {
		return err
	}
	return f.keyValues(slot(slots, 6))
}

// recordBatch checks a RecordBatch: length 0, nodes 1, buffers 2,
// compression 3, variadicBufferCounts 4.
func (f *fbuf) recordBatch(slots []int) error {
	if _, _, err := f.vector(slot(slots, 1), 16); err != nil {
		return err
	}
	_, nbuf, err := f.vector(slot(slots, 2), 16)
	if err != nil {
		return err
	}
	if _, err := f.subtable(slot(slots, 3)); err != nil {
		return err
	}
	start, n, err := f.vector(slot(slots, 4), 8)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if c := int64(binary.LittleEndian.Uint64(f.b[start+8*i:])); c < 0 || c > int64(nbuf) {
			return fmt.Errorf("%w: variadic buffer count %d with %d buffers", errFB, c, nbuf)
		}
	}
	return nil
}
