package window

import (
	"encoding/binary"
	"errors"
	"math"
)

// The binary form of slot states, for state spilled to a backend
// (spill.go): per aggregate, in definition order, its state as below;
// integers are varints (zigzag for signed values), floats 8 bytes little
// endian, strings a uvarint length then the bytes, bools one byte.
//
//	count: n | sum, avg: sum, n | min, max: ok, [value] |
//	first, last: ok, [value, time] | count_distinct: len, values... |
//	_max_time: time
//
// A decoder folds a state into a slot (merge semantics), so decoding into
// an empty slot restores it.

// errCorrupt: bytes a backend returned that encode did not write.
var errCorrupt = errors.New("window: corrupt spilled state")

// decoder reads the binary form; the first error sticks and later reads
// return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// appendVal appends one value of an aggregate's kind.
func appendVal[T any](b []byte, x T) []byte {
	switch x := any(x).(type) {
	case int64:
		return binary.AppendVarint(b, x)
	case uint64:
		return binary.AppendUvarint(b, x)
	case float64:
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	case string:
		return append(binary.AppendUvarint(b, uint64(len(x))), x...)
	case uint8:
		return append(b, x)
	}
	panic("window: appendVal: unexpected type")
}

// readVal reads a value appendVal wrote.
func readVal[T any](d *decoder) T {
	var z T
	var v any
	switch any(z).(type) {
	case int64:
		v = d.varint()
	case uint64:
		v = d.uvarint()
	case float64:
		v = math.Float64frombits(d.u64())
	case string:
		v = d.str()
	case uint8:
		v = d.byte()
	}
	return v.(T)
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func (s *countState) encode(b []byte, slot int32) []byte { return binary.AppendVarint(b, s.n[slot]) }
func (s *countState) decode(d *decoder, dst int32)       { s.n[dst] += d.varint() }

func (s *sumState[T]) encode(b []byte, slot int32) []byte {
	return binary.AppendVarint(appendVal(b, s.sum[slot]), s.n[slot])
}
func (s *sumState[T]) decode(d *decoder, dst int32) {
	s.sum[dst] += readVal[T](d)
	s.n[dst] += d.varint()
}

func (s *minMaxState[T]) encode(b []byte, slot int32) []byte {
	b = append(b, boolByte(s.ok[slot]))
	if s.ok[slot] {
		b = appendVal(b, s.v[slot])
	}
	return b
}
func (s *minMaxState[T]) decode(d *decoder, dst int32) {
	if d.byte() == 1 {
		s.put(dst, readVal[T](d))
	}
}

func (s *firstLastState[T]) encode(b []byte, slot int32) []byte {
	b = append(b, boolByte(s.ok[slot]))
	if s.ok[slot] {
		b = binary.AppendVarint(appendVal(b, s.v[slot]), s.t[slot])
	}
	return b
}
func (s *firstLastState[T]) decode(d *decoder, dst int32) {
	if d.byte() == 1 {
		x := readVal[T](d)
		s.put(dst, x, d.varint())
	}
}

func (s *distinctState[T]) encode(b []byte, slot int32) []byte {
	set := &s.sets[slot]
	b = binary.AppendUvarint(b, uint64(set.len()))
	set.each(func(id int32) { b = appendVal(b, s.vals[id]) })
	return b
}
func (s *distinctState[T]) decode(d *decoder, dst int32) {
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		x := readVal[T](d)
		if d.err == nil {
			s.add(dst, x)
		}
	}
}

func (s *maxTimeState) encode(b []byte, slot int32) []byte { return binary.AppendVarint(b, s.t[slot]) }
func (s *maxTimeState) decode(d *decoder, dst int32)       { s.t[dst] = max(s.t[dst], d.varint()) }

// encode appends slot's states, in aggregate order.
func (s *stateSet) encode(b []byte, slot int32) []byte {
	for _, st := range s.st {
		b = st.encode(b, slot)
	}
	return b
}

// decode folds states encode wrote into slot dst.
func (s *stateSet) decode(d *decoder, dst int32) {
	for _, st := range s.st {
		st.decode(d, dst)
	}
}
