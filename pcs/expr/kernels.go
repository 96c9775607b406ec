package expr

// Own columnar kernels, for what arrow-go v18.8.0's compute registry lacks
// or gets wrong:
//   - division and modulo with null on a zero divisor (its integer divide
//     fails the whole call on a zero; it has no modulo);
//   - if/case/coalesce (no if_else or case_when kernel);
//   - starts_with/ends_with/contains (no string kernels);
//   - casts: float to int truncating with null on overflow, string to
//     timestamp for RFC 3339 with or without an offset, timestamps to a
//     coarser unit rounded down, and to string (arrow-go's casts to string
//     leak their builders' buffers);
//   - not, is_null, is_not_null and bool to number (arrow-go's give wrong
//     results on arrays sliced at an offset that is not a multiple of 8).
//
// Each is a typed loop over the Arrow buffers; scalar (constant) operands
// are read once, not materialized.

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// newBitmap returns a zeroed bitmap buffer of n bits.
func newBitmap(mem memory.Allocator, n int) *memory.Buffer {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	clear(buf.Bytes())
	return buf
}

// newFixed returns a buffer for n values of T and its typed view.
func newFixed[T arrow.FixedWidthType](mem memory.Allocator, n int) (*memory.Buffer, []T) {
	var zero T
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n * int(sizeOf(zero)))
	return buf, arrow.GetData[T](buf.Bytes())[:n]
}

func sizeOf[T arrow.FixedWidthType](T) uintptr {
	var z [1]T
	return uintptr(len(arrow.GetBytes(z[:])))
}

// makeArray builds an array from buffers, taking over the caller's
// references to them. A validity buffer without nulls is dropped.
func makeArray(dt arrow.DataType, n int, bufs []*memory.Buffer) arrow.Array {
	nulls := 0
	if v := bufs[0]; v != nil {
		nulls = n - bitutil.CountSetBits(v.Bytes(), 0, n)
		if nulls == 0 {
			v.Release()
			bufs[0] = nil
		}
	}
	d := array.NewData(dt, n, bufs, nil, nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	defer d.Release()
	return array.MakeFromData(d)
}

// newBool builds a boolean array from a values bitmap (nil: all false)
// and a validity bitmap (nil: no nulls), taking over both references.
func newBool(mem memory.Allocator, n int, values, validity *memory.Buffer) arrow.Array {
	if values == nil {
		values = newBitmap(mem, n)
	}
	return makeArray(tBool, n, []*memory.Buffer{validity, values})
}

// valueBits is the values bitmap of a boolean array (from bit 0 of the
// buffer: add the array's offset).
func valueBits(b *array.Boolean) []byte {
	if buf := b.Data().Buffers()[1]; buf != nil {
		return buf.Bytes()
	}
	return nil
}

// validityAnd returns the bitmap of rows valid in all of vals (arrays, or
// valid scalars, which do not restrict).
func validityAnd(e *env, vals ...value) *memory.Buffer {
	buf := newBitmap(e.mem, e.n)
	bits, first := buf.Bytes(), true
	for _, v := range vals {
		if v.arr == nil || v.arr.NullN() == 0 {
			continue
		}
		off := v.arr.Data().Offset()
		if first {
			bitutil.CopyBitmap(v.arr.NullBitmapBytes(), off, e.n, bits, 0)
			first = false
		} else {
			bitutil.BitmapAnd(bits, v.arr.NullBitmapBytes(), 0, int64(off), bits, 0, int64(e.n))
		}
	}
	if first {
		bitutil.SetBitsTo(bits, 0, int64(e.n), true)
	}
	return buf
}

func nullScalar(v value) bool { return v.arr == nil && !v.sc.IsValid() }

// fixedValues is the typed view of a fixed-width array's values.
func fixedValues[T arrow.FixedWidthType](a arrow.Array) []T {
	d := a.Data()
	buf := d.Buffers()[1]
	if buf == nil || buf.Len() == 0 {
		return make([]T, d.Offset()+d.Len())[d.Offset():]
	}
	return arrow.GetData[T](buf.Bytes())[d.Offset() : d.Offset()+d.Len()]
}

// ---- division and modulo ----

func divMod(e *env, l, r value, mod bool, dt arrow.DataType) (value, error) {
	if e.n == 0 || nullScalar(l) || nullScalar(r) {
		return value{arr: array.MakeArrayOfNull(e.mem, dt, e.n)}, nil
	}
	if l.arr == nil && r.arr == nil { // not reached: constants are folded
		arr, err := e.array(l)
		if err != nil {
			return value{}, err
		}
		defer arr.Release()
		l = value{arr: arr}
	}
	if dt.ID() == arrow.INT64 && r.arr == nil && scalarValue[int64](r.sc) != 0 {
		return divModConst(e, l, newDivider(scalarValue[int64](r.sc)), mod), nil
	}
	if dt.ID() == arrow.INT64 {
		op := func(x, y int64) int64 { return x / y }
		if mod {
			op = func(x, y int64) int64 { return x % y }
		}
		return divModT(e, l, r, dt, mod, op)
	}
	op := func(x, y float64) float64 { return x / y }
	if mod {
		op = math.Mod
	}
	return divModT(e, l, r, dt, mod, op)
}

// divModT computes l op r; rows where r is 0 are null. Division, the hot
// case, is written out so that the compiler inlines it; modulo goes
// through op.
func divModT[T int64 | float64](e *env, l, r value, dt arrow.DataType, mod bool, op func(x, y T) T) (value, error) {
	n := e.n
	valid := validityAnd(e, l, r)
	vb := valid.Bytes()
	data, out := newFixed[T](e.mem, n)
	var lv, rv []T
	var lc, rc T
	if l.arr != nil {
		lv = fixedValues[T](l.arr)
	} else {
		lc = scalarValue[T](l.sc)
	}
	if r.arr != nil {
		rv = fixedValues[T](r.arr)
	} else {
		rc = scalarValue[T](r.sc)
	}
	switch {
	case rv == nil && rc == 0: // constant zero divisor
		clear(out)
		clear(vb)
	case rv == nil && !mod:
		for i, x := range lv {
			out[i] = x / rc
		}
	case rv == nil:
		for i, x := range lv {
			out[i] = op(x, rc)
		}
	default:
		for i, y := range rv {
			if y == 0 {
				out[i] = 0
				bitutil.ClearBit(vb, i)
				continue
			}
			x := lc
			if lv != nil {
				x = lv[i]
			}
			if mod {
				out[i] = op(x, y)
			} else {
				out[i] = x / y
			}
		}
	}
	return value{arr: makeArray(dt, n, []*memory.Buffer{valid, data})}, nil
}

// divModConst divides an int64 array by a constant that is not zero.
func divModConst(e *env, l value, v divider, mod bool) value {
	data, out := newFixed[int64](e.mem, e.n)
	in := fixedValues[int64](l.arr)
	v.divAll(out, in)
	if mod {
		for i, x := range in {
			out[i] = x - out[i]*v.d
		}
	}
	return value{arr: makeArray(tInt64, e.n, []*memory.Buffer{validityAnd(e, l), data})}
}

// scalarValue reads a valid fixed-width scalar.
func scalarValue[T arrow.FixedWidthType](sc scalar.Scalar) T {
	return arrow.GetData[T](sc.(scalar.PrimitiveScalar).Data())[0]
}

// ---- conditions ----

// cond is a selection bitmap of e.n bits from bit 0, or a constant.
type cond struct {
	bits  []byte
	buf   *memory.Buffer
	konst int8 // 1: all true, -1: all false, 0: bits
}

func (c cond) release() {
	if c.buf != nil {
		c.buf.Release()
	}
}

// condBits turns a boolean value into a selection: null counts as false.
func condBits(e *env, v value) cond {
	if v.arr == nil {
		if b, ok := v.sc.(*scalar.Boolean); ok && b.Valid && b.Value {
			return cond{konst: 1}
		}
		return cond{konst: -1}
	}
	b := v.arr.(*array.Boolean)
	buf := newBitmap(e.mem, e.n)
	off := b.Data().Offset()
	if b.NullN() == 0 {
		bitutil.CopyBitmap(valueBits(b), off, e.n, buf.Bytes(), 0)
	} else {
		bitutil.BitmapAnd(valueBits(b), b.NullBitmapBytes(), int64(off), int64(off), buf.Bytes(), 0, int64(e.n))
	}
	return cond{bits: buf.Bytes(), buf: buf}
}

// validBits is the selection of the rows where v is not null.
func validBits(e *env, v value) cond {
	switch {
	case v.arr == nil && v.sc.IsValid(), v.arr != nil && v.arr.NullN() == 0:
		return cond{konst: 1}
	case v.arr == nil || v.arr.NullN() == v.arr.Len():
		return cond{konst: -1}
	}
	buf := newBitmap(e.mem, e.n)
	bitutil.CopyBitmap(v.arr.NullBitmapBytes(), v.arr.Data().Offset(), e.n, buf.Bytes(), 0)
	return cond{bits: buf.Bytes(), buf: buf}
}

// ---- if / case / coalesce ----

// selectValues returns, row by row, a where c is set and b elsewhere; a
// and b have type dt.
func selectValues(e *env, c cond, a, b value, dt arrow.DataType) (value, error) {
	defer c.release()
	switch c.konst {
	case 1:
		arr, err := e.array(a)
		return value{arr: arr}, err
	case -1:
		arr, err := e.array(b)
		return value{arr: arr}, err
	}
	n := e.n
	switch dt.ID() {
	case arrow.NULL:
		return value{arr: array.NewNull(n)}, nil
	case arrow.BOOL:
		return selectBool(e, c.bits, a, b), nil
	case arrow.STRING:
		return selectString[int32](e, c.bits, a, b, dt), nil
	case arrow.LARGE_STRING:
		return selectString[int64](e, c.bits, a, b, dt), nil
	}
	fw, ok := dt.(arrow.FixedWidthDataType)
	if !ok {
		return value{}, fmt.Errorf("%w: internal: no select for %s", ErrEval, dt)
	}
	switch fw.BitWidth() {
	case 8:
		return selectFixed[uint8](e, c.bits, a, b, dt), nil
	case 16:
		return selectFixed[uint16](e, c.bits, a, b, dt), nil
	case 32:
		return selectFixed[uint32](e, c.bits, a, b, dt), nil
	case 64:
		return selectFixed[uint64](e, c.bits, a, b, dt), nil
	}
	return value{}, fmt.Errorf("%w: internal: no select for %s", ErrEval, dt)
}

// source reads row i of an array or a scalar operand.
type fixedSrc[T arrow.FixedWidthType] struct {
	vals     []T
	c        T
	valid    []byte
	voff     int
	allValid bool
}

func newFixedSrc[T arrow.FixedWidthType](v value) fixedSrc[T] {
	if v.arr != nil {
		return fixedSrc[T]{vals: fixedValues[T](v.arr), valid: v.arr.NullBitmapBytes(),
			voff: v.arr.Data().Offset(), allValid: v.arr.NullN() == 0}
	}
	s := fixedSrc[T]{allValid: v.sc.IsValid()}
	if s.allValid {
		s.c = scalarValue[T](v.sc)
	}
	return s
}

func (s *fixedSrc[T]) at(i int) (T, bool) {
	if s.vals == nil {
		return s.c, s.allValid
	}
	return s.vals[i], s.allValid || bitutil.BitIsSet(s.valid, s.voff+i)
}

func selectFixed[T uint8 | uint16 | uint32 | uint64](e *env, c []byte, a, b value, dt arrow.DataType) value {
	n := e.n
	sa, sb := newFixedSrc[T](a), newFixedSrc[T](b)
	data, out := newFixed[T](e.mem, n)
	valid := newBitmap(e.mem, n)
	vb := valid.Bytes()
	for i := range out {
		var x T
		var ok bool
		if bitutil.BitIsSet(c, i) {
			x, ok = sa.at(i)
		} else {
			x, ok = sb.at(i)
		}
		out[i] = x
		if ok {
			bitutil.SetBit(vb, i)
		}
	}
	return value{arr: makeArray(dt, n, []*memory.Buffer{valid, data})}
}

type boolSrc struct {
	vals, valid []byte
	off         int
	c, allValid bool
	arr         bool
}

func newBoolSrc(v value) boolSrc {
	if v.arr != nil {
		b := v.arr.(*array.Boolean)
		return boolSrc{vals: valueBits(b), valid: b.NullBitmapBytes(), off: b.Data().Offset(), allValid: b.NullN() == 0, arr: true}
	}
	s := boolSrc{allValid: v.sc.IsValid()}
	if s.allValid {
		s.c = v.sc.(*scalar.Boolean).Value
	}
	return s
}

func (s *boolSrc) at(i int) (bool, bool) {
	if !s.arr {
		return s.c, s.allValid
	}
	return bitutil.BitIsSet(s.vals, s.off+i), s.allValid || bitutil.BitIsSet(s.valid, s.off+i)
}

func selectBool(e *env, c []byte, a, b value) value {
	n := e.n
	sa, sb := newBoolSrc(a), newBoolSrc(b)
	vals, valid := newBitmap(e.mem, n), newBitmap(e.mem, n)
	out, vb := vals.Bytes(), valid.Bytes()
	for i := 0; i < n; i++ {
		var x, ok bool
		if bitutil.BitIsSet(c, i) {
			x, ok = sa.at(i)
		} else {
			x, ok = sb.at(i)
		}
		if x {
			bitutil.SetBit(out, i)
		}
		if ok {
			bitutil.SetBit(vb, i)
		}
	}
	return value{arr: newBool(e.mem, n, vals, valid)}
}

// strSrc reads row i of a utf8 (O int32) or large_utf8 (O int64) array or
// scalar operand.
type strSrc[O int32 | int64] struct {
	offs     []O
	data     []byte
	valid    []byte
	voff     int
	allValid bool
	c        []byte
	arr      bool
}

func newStrSrc[O int32 | int64](v value) strSrc[O] {
	if v.arr != nil {
		d := v.arr.Data()
		s := strSrc[O]{valid: v.arr.NullBitmapBytes(), voff: d.Offset(), allValid: v.arr.NullN() == 0, arr: true}
		if b := d.Buffers()[1]; b != nil && b.Len() > 0 {
			s.offs = arrow.GetData[O](b.Bytes())[d.Offset() : d.Offset()+d.Len()+1]
		} else {
			s.offs = make([]O, d.Len()+1)
		}
		if b := d.Buffers()[2]; b != nil {
			s.data = b.Bytes()
		}
		return s
	}
	s := strSrc[O]{allValid: v.sc.IsValid()}
	if s.allValid {
		s.c = v.sc.(scalar.BinaryScalar).Data()
	}
	return s
}

func (s *strSrc[O]) at(i int) ([]byte, bool) {
	if !s.arr {
		return s.c, s.allValid
	}
	return s.data[s.offs[i]:s.offs[i+1]], s.allValid || bitutil.BitIsSet(s.valid, s.voff+i)
}

func selectString[O int32 | int64](e *env, c []byte, a, b value, dt arrow.DataType) value {
	n := e.n
	sa, sb := newStrSrc[O](a), newStrSrc[O](b)
	pick := func(i int) ([]byte, bool) {
		if bitutil.BitIsSet(c, i) {
			return sa.at(i)
		}
		return sb.at(i)
	}
	total := 0
	for i := 0; i < n; i++ {
		if s, ok := pick(i); ok {
			total += len(s)
		}
	}
	offBuf, offs := newFixed[O](e.mem, n+1)
	dataBuf := memory.NewResizableBuffer(e.mem)
	dataBuf.Resize(total)
	data := dataBuf.Bytes()
	valid := newBitmap(e.mem, n)
	vb := valid.Bytes()
	pos := 0
	for i := 0; i < n; i++ {
		offs[i] = O(pos)
		if s, ok := pick(i); ok {
			pos += copy(data[pos:], s)
			bitutil.SetBit(vb, i)
		}
	}
	offs[n] = O(pos)
	return value{arr: makeArray(dt, n, []*memory.Buffer{valid, offBuf, dataBuf})}
}

// ---- starts_with, ends_with, contains ----

func match(e *env, op string, s, p value) (value, error) {
	if e.n == 0 || nullScalar(s) || nullScalar(p) {
		return value{arr: array.MakeArrayOfNull(e.mem, tBool, e.n)}, nil
	}
	if s.typ().ID() == arrow.LARGE_STRING {
		return matchT[int64](e, op, s, p), nil
	}
	return matchT[int32](e, op, s, p), nil
}

func matchT[O int32 | int64](e *env, op string, s, p value) value {
	n := e.n
	valid := validityAnd(e, s, p)
	vals := newBitmap(e.mem, n)
	out, vb := vals.Bytes(), valid.Bytes()
	ss, ps := newStrSrc[O](s), newStrSrc[O](p)
	f := bytes.HasPrefix
	switch op {
	case "ends_with":
		f = bytes.HasSuffix
	case "contains":
		f = bytes.Contains
	}
	if ss.arr && !ps.arr { // the common case: a column and a constant pattern
		pat := ps.c
		data, offs := ss.data, ss.offs
		for i := 0; i < n; i++ {
			if f(data[offs[i]:offs[i+1]], pat) {
				bitutil.SetBit(out, i)
			}
		}
	} else {
		for i := 0; i < n; i++ {
			if !bitutil.BitIsSet(vb, i) {
				continue
			}
			x, _ := ss.at(i)
			y, _ := ps.at(i)
			if f(x, y) {
				bitutil.SetBit(out, i)
			}
		}
	}
	// values under nulls are don't-care; keep them false
	bitutil.BitmapAnd(out, vb, 0, 0, out, 0, int64(n))
	return value{arr: newBool(e.mem, n, vals, valid)}
}

// concat joins the strings of vals row by row into an array of dt
// (string or large_string), null where any value is null.
func concat(e *env, dt arrow.DataType, vals []value) value {
	for _, v := range vals {
		if nullScalar(v) || e.n == 0 {
			return value{arr: array.MakeArrayOfNull(e.mem, dt, e.n)}
		}
	}
	if dt.ID() == arrow.LARGE_STRING {
		return concatT[int64](e, dt, vals)
	}
	return concatT[int32](e, dt, vals)
}

func concatT[O int32 | int64](e *env, dt arrow.DataType, vals []value) value {
	n := e.n
	valid := validityAnd(e, vals...)
	vb := valid.Bytes()
	ps := make([]strPiece, len(vals))
	allValid := true
	for k, v := range vals {
		ps[k] = newStrPiece(v)
		allValid = allValid && ps[k].allValid
	}
	offBuf, offs := newFixed[O](e.mem, n+1)
	total := 0
	if allValid { // every row: the sum of the arguments' lengths
		for k := range ps {
			total += ps[k].total(n)
		}
	} else {
		for i := 0; i < n; i++ {
			if bitutil.BitIsSet(vb, i) {
				for k := range ps {
					total += len(ps[k].at(i))
				}
			}
		}
	}
	data := memory.NewResizableBuffer(e.mem)
	data.Resize(total)
	out := data.Bytes()
	w := 0
	for i := 0; i < n; i++ {
		offs[i] = O(w)
		if !allValid && !bitutil.BitIsSet(vb, i) {
			continue
		}
		for k := range ps {
			w += copy(out[w:], ps[k].at(i))
		}
	}
	offs[n] = O(w)
	return value{arr: makeArray(dt, n, []*memory.Buffer{valid, offBuf, data})}
}

// strPiece is one argument of concat: a string or large_string array
// (its offsets, 32 or 64 bits, and data) or a string scalar.
type strPiece struct {
	o32      []int32
	o64      []int64
	data     []byte
	c        []byte
	scalar   bool
	allValid bool // no null (a null scalar never reaches concatT)
}

func newStrPiece(v value) strPiece {
	if v.arr == nil {
		s := newStrSrc[int32](v)
		return strPiece{c: s.c, scalar: true, allValid: true}
	}
	if v.typ().ID() == arrow.LARGE_STRING {
		s := newStrSrc[int64](v)
		return strPiece{o64: s.offs, data: s.data, allValid: s.allValid}
	}
	s := newStrSrc[int32](v)
	return strPiece{o32: s.offs, data: s.data, allValid: s.allValid}
}

func (p *strPiece) at(i int) []byte {
	switch {
	case p.scalar:
		return p.c
	case p.o64 != nil:
		return p.data[p.o64[i]:p.o64[i+1]]
	}
	return p.data[p.o32[i]:p.o32[i+1]]
}

// total is the bytes of p's n values.
func (p *strPiece) total(n int) int {
	switch {
	case p.scalar:
		return n * len(p.c)
	case p.o64 != nil:
		return int(p.o64[n] - p.o64[0])
	}
	return int(p.o32[n] - p.o32[0])
}

// ---- casts ----

// floatToInt truncates toward zero; NaN, infinities and values outside
// the int64 range become null.
func floatToInt(e *env, arr arrow.Array) (value, error) {
	n := e.n
	valid := validityAnd(e, value{arr: arr})
	vb := valid.Bytes()
	data, out := newFixed[int64](e.mem, n)
	conv := func(i int, f float64) {
		if f != f || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
			out[i] = 0
			bitutil.ClearBit(vb, i)
			return
		}
		out[i] = int64(f)
	}
	switch a := arr.(type) {
	case *array.Float64:
		for i, f := range a.Float64Values() {
			conv(i, f)
		}
	case *array.Float32:
		for i, f := range a.Float32Values() {
			conv(i, float64(f))
		}
	default:
		valid.Release()
		data.Release()
		return value{}, fmt.Errorf("%w: internal: float cast of %s", ErrEval, arr.DataType())
	}
	return value{arr: makeArray(tInt64, n, []*memory.Buffer{valid, data})}, nil
}

// stringToTimestamp parses RFC 3339 timestamps (the forms of timestamp
// literals; without an offset, UTC). A string that does not parse is an
// error, like Arrow's string casts.
func stringToTimestamp(e *env, arr arrow.Array, to *arrow.TimestampType) (value, error) {
	if arr.DataType().ID() == arrow.LARGE_STRING {
		return stringToTimestampT[int64](e, arr, to)
	}
	return stringToTimestampT[int32](e, arr, to)
}

func stringToTimestampT[O int32 | int64](e *env, arr arrow.Array, to *arrow.TimestampType) (value, error) {
	n := e.n
	src := newStrSrc[O](value{arr: arr})
	data, out := newFixed[int64](e.mem, n)
	for i := 0; i < n; i++ {
		s, ok := src.at(i)
		if !ok {
			out[i] = 0
			continue
		}
		t, err := parseTime(string(s))
		if err != nil {
			data.Release()
			return value{}, fmt.Errorf("%w: cast row %d to timestamp: %q is not RFC 3339", ErrEval, i, s)
		}
		v, ok := toUnit(t, to.Unit)
		if !ok {
			data.Release()
			return value{}, fmt.Errorf("%w: cast row %d to timestamp: %q out of range for %s", ErrEval, i, s, to)
		}
		out[i] = v
	}
	var valid *memory.Buffer
	if arr.NullN() > 0 {
		valid = validityAnd(e, value{arr: arr})
	}
	return value{arr: makeArray(to, n, []*memory.Buffer{valid, data})}, nil
}

// toUnit converts t to a count of unit since the epoch.
func toUnit(t time.Time, unit arrow.TimeUnit) (int64, bool) {
	switch unit {
	case arrow.Second:
		return t.Unix(), true
	case arrow.Millisecond:
		return t.UnixMilli(), true
	case arrow.Microsecond:
		return t.UnixMicro(), true
	}
	if y := t.Year(); y < 1678 || y > 2261 {
		return 0, false
	}
	return t.UnixNano(), true
}

// toString formats numbers, booleans, dates and timestamps. (arrow-go's
// casts to string leak their builder's buffers in v18.8.0, so they are not
// used.) Floats print as Go's strconv 'g' (shortest exact), dates as
// 2006-01-02, timestamps as RFC 3339 in UTC with as many fraction digits as
// needed.
func toString(e *env, arr arrow.Array, to arrow.DataType) (value, error) {
	var f func(dst []byte, i int) []byte
	switch a := arr.(type) {
	case *array.Int8:
		f = intFormatter(a.Int8Values())
	case *array.Int16:
		f = intFormatter(a.Int16Values())
	case *array.Int32:
		f = intFormatter(a.Int32Values())
	case *array.Int64:
		f = intFormatter(a.Int64Values())
	case *array.Uint8:
		f = uintFormatter(a.Uint8Values())
	case *array.Uint16:
		f = uintFormatter(a.Uint16Values())
	case *array.Uint32:
		f = uintFormatter(a.Uint32Values())
	case *array.Uint64:
		f = uintFormatter(a.Uint64Values())
	case *array.Float32:
		v := a.Float32Values()
		f = func(dst []byte, i int) []byte { return strconv.AppendFloat(dst, float64(v[i]), 'g', -1, 32) }
	case *array.Float64:
		v := a.Float64Values()
		f = func(dst []byte, i int) []byte { return strconv.AppendFloat(dst, v[i], 'g', -1, 64) }
	case *array.Boolean:
		f = func(dst []byte, i int) []byte { return strconv.AppendBool(dst, a.Value(i)) }
	case *array.Date32:
		v := a.Date32Values()
		f = func(dst []byte, i int) []byte { return v[i].ToTime().AppendFormat(dst, time.DateOnly) }
	case *array.Timestamp:
		v, unit := a.TimestampValues(), a.DataType().(*arrow.TimestampType).Unit
		f = func(dst []byte, i int) []byte { return v[i].ToTime(unit).UTC().AppendFormat(dst, time.RFC3339Nano) }
	default:
		return value{}, fmt.Errorf("%w: internal: no string cast for %s", ErrEval, arr.DataType())
	}
	n := e.n
	var data []byte
	ends := make([]int, n)
	for i := 0; i < n; i++ {
		if arr.IsValid(i) {
			data = f(data, i)
		}
		ends[i] = len(data)
	}
	var valid *memory.Buffer
	if arr.NullN() > 0 {
		valid = validityAnd(e, value{arr: arr})
	}
	dataBuf := memory.NewResizableBuffer(e.mem)
	dataBuf.Resize(len(data))
	copy(dataBuf.Bytes(), data)
	var offBuf *memory.Buffer
	if to.ID() == arrow.LARGE_STRING {
		offBuf = offsetsFrom[int64](e.mem, ends)
	} else {
		if len(data) > math.MaxInt32 {
			dataBuf.Release()
			if valid != nil {
				valid.Release()
			}
			return value{}, fmt.Errorf("%w: cast to string: %d bytes overflow utf8 offsets (cast to large_string)", ErrEval, len(data))
		}
		offBuf = offsetsFrom[int32](e.mem, ends)
	}
	return value{arr: makeArray(to, n, []*memory.Buffer{valid, offBuf, dataBuf})}, nil
}

func offsetsFrom[O int32 | int64](mem memory.Allocator, ends []int) *memory.Buffer {
	buf, offs := newFixed[O](mem, len(ends)+1)
	offs[0] = 0
	for i, end := range ends {
		offs[i+1] = O(end)
	}
	return buf
}

func intFormatter[T int8 | int16 | int32 | int64](v []T) func([]byte, int) []byte {
	return func(dst []byte, i int) []byte { return strconv.AppendInt(dst, int64(v[i]), 10) }
}

func uintFormatter[T uint8 | uint16 | uint32 | uint64](v []T) func([]byte, int) []byte {
	return func(dst []byte, i int) []byte { return strconv.AppendUint(dst, uint64(v[i]), 10) }
}

// timestampFloor converts timestamps to a coarser unit, rounding down (to
// the earlier instant; arrow-go's unsafe cast truncates toward zero, which
// moves instants before 1970 later).
func timestampFloor(e *env, arr arrow.Array, to *arrow.TimestampType) (value, error) {
	from := arr.DataType().(*arrow.TimestampType)
	f := int64(to.Unit.Multiplier() / from.Unit.Multiplier())
	data, out := newFixed[int64](e.mem, e.n)
	for i, v := range arr.(*array.Timestamp).TimestampValues() {
		q := int64(v) / f
		if int64(v)%f < 0 {
			q--
		}
		out[i] = q
	}
	var valid *memory.Buffer
	if arr.NullN() > 0 {
		valid = validityAnd(e, value{arr: arr})
	}
	return value{arr: makeArray(to, e.n, []*memory.Buffer{valid, data})}, nil
}

// ---- not, is_null, is_not_null, bool to number ----

func not(e *env, b *array.Boolean) value {
	n, off := e.n, b.Data().Offset()
	vals := newBitmap(e.mem, n)
	bitutil.InvertBitmap(valueBits(b), off, n, vals.Bytes(), 0)
	var valid *memory.Buffer
	if b.NullN() > 0 {
		valid = newBitmap(e.mem, n)
		bitutil.CopyBitmap(b.NullBitmapBytes(), off, n, valid.Bytes(), 0)
		bitutil.BitmapAnd(vals.Bytes(), valid.Bytes(), 0, 0, vals.Bytes(), 0, int64(n))
	}
	return value{arr: newBool(e.mem, n, vals, valid)}
}

// nullTest returns where arr is null (isNull) or not null; never null.
func nullTest(e *env, arr arrow.Array, isNull bool) value {
	n := e.n
	vals := newBitmap(e.mem, n)
	switch {
	case arr.NullN() == 0:
		bitutil.SetBitsTo(vals.Bytes(), 0, int64(n), !isNull)
	case isNull:
		bitutil.InvertBitmap(arr.NullBitmapBytes(), arr.Data().Offset(), n, vals.Bytes(), 0)
	default:
		bitutil.CopyBitmap(arr.NullBitmapBytes(), arr.Data().Offset(), n, vals.Bytes(), 0)
	}
	return value{arr: newBool(e.mem, n, vals, nil)}
}

// boolToNumber casts false/true to 0/1 (int64 or float64).
func boolToNumber(e *env, arr arrow.Array, to arrow.DataType) (value, error) {
	b := arr.(*array.Boolean)
	n, off, bits := e.n, b.Data().Offset(), valueBits(b)
	var data *memory.Buffer
	switch to.ID() {
	case arrow.INT64:
		var out []int64
		data, out = newFixed[int64](e.mem, n)
		for i := range out {
			out[i] = 0
			if bitutil.BitIsSet(bits, off+i) {
				out[i] = 1
			}
		}
	case arrow.FLOAT64:
		var out []float64
		data, out = newFixed[float64](e.mem, n)
		for i := range out {
			out[i] = 0
			if bitutil.BitIsSet(bits, off+i) {
				out[i] = 1
			}
		}
	default:
		return value{}, fmt.Errorf("%w: internal: bool cast to %s", ErrEval, to)
	}
	var valid *memory.Buffer
	if arr.NullN() > 0 {
		valid = validityAnd(e, value{arr: arr})
	}
	return value{arr: makeArray(to, n, []*memory.Buffer{valid, data})}, nil
}
