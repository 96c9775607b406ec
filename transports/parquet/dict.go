package parquet

import (
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// dictPutter is the part of arrow-go's dictionary encoder (an internal
// type) that writeDictColumn uses: seeding the dictionary of an empty
// column chunk, as pqarrow's own dictionary path does.
type dictPutter interface {
	PutDictionary(arrow.Array) error
	NumEntries() int
}

// writeDictColumn writes a string, binary, dictionary<_, string|binary>,
// int32 or int64 column chunk as one dictionary of the values the chunk
// uses, in order of first use, plus one index per row. It reports false,
// having written nothing, when the column is of another type or its
// chunk is not dictionary-encoded (disabled for the column).
//
// The dictionary is kept only where it pays: when the chunk's distinct
// values would exceed the dictionary page size limit
// (pq.WithDictionaryPageSizeLimit, 1 MiB by default: past it a reader
// holds a large dictionary per chunk for few repeats), or when the
// dictionary plus the bit-packed indices would not be smaller than the
// PLAIN values (near-unique strings or integers), the chunk falls back to
// PLAIN (the column writer's FallbackToPlain, before anything was
// written) and writeDictColumn reports false: the caller writes the
// values through pqarrow, PLAIN. The choice is made per column chunk,
// so one row group of unique values does not turn the others PLAIN.
//
// Why not arrow-go's own paths: its byte-array dictionary encoder boxes
// every value into an interface (an allocation per row) to hash it, its
// integer encoder hashes every row through a general memo table, and its
// Arrow-dictionary path falls back to PLAIN at the first batch whose
// dictionary differs from the previous one (every partition carries its
// own), then hashes every distinct index of every batch again for the
// statistics. Here strings of up to 7 bytes (codes, airports, states,
// routes) and integers are hashed as one uint64 in an open-addressing
// table, longer strings through a Go map without an allocation per row,
// Arrow dictionaries once per distinct value of a batch's dictionary;
// the statistics come from the chunk's dictionary, which holds only used
// values, and the indices go to the encoder as they are. The file is the
// same as arrow-go writes: a dictionary page, RLE indices, min/max
// statistics.
func writeDictColumn(cw file.ColumnChunkWriter, field arrow.Field, chunks []arrow.Array, mem memory.Allocator, sc *scratch) (bool, error) {
	valueType := field.Type
	dt, isDict := field.Type.(*arrow.DictionaryType)
	if isDict {
		valueType = dt.ValueType
	}
	isInt := !isDict && (valueType.ID() == arrow.INT64 || valueType.ID() == arrow.INT32)
	if !arrow.IsBaseBinary(valueType.ID()) && !isInt {
		return false, nil
	}
	enc := cw.CurrentEncoder()
	putter, ok := enc.(dictPutter)
	if !ok || (enc.Encoding() != pq.Encodings.PlainDict && enc.Encoding() != pq.Encodings.RLEDict) || putter.NumEntries() != 0 {
		return false, nil
	}
	n, nulls := 0, 0
	for _, c := range chunks {
		n += c.Len()
		nulls += c.NullN()
		if isDict && c.(*array.Dictionary).Dictionary().NullN() > 0 {
			return false, nil // nulls among the values: pqarrow's path
		}
	}
	if n == 0 {
		return false, nil
	}

	if sc.idx == nil {
		sc.idx = memory.NewResizableBuffer(mem)
	}
	idxBuf := sc.idx
	idxBuf.ResizeNoShrink(n * arrow.Int32SizeBytes)
	ix := &indexer{idx: arrow.Int32Traits.CastFromBytes(idxBuf.Bytes())[:n]}
	var validBuf *memory.Buffer
	if nulls > 0 {
		validBuf = memory.NewResizableBuffer(mem)
		defer validBuf.Release()
		validBuf.Resize(int(bitutil.BytesForBits(int64(n))))
		ix.valid = validBuf.Bytes()
		clear(ix.valid)
	}
	if field.Nullable {
		ix.defs = sc.levels(n)
	}

	limit := cw.Properties().DictionaryPageSizeLimit()
	var values arrow.Array
	switch {
	case isInt && valueType.ID() == arrow.INT64:
		values, ok = indexInts[int64](ix, chunks, n-nulls, limit)
	case isInt:
		values, ok = indexInts[int32](ix, chunks, n-nulls, limit)
	default:
		values, ok = indexStrings(ix, chunks, valueType, isDict, n-nulls, limit, mem)
	}
	if !ok {
		cw.FallbackToPlain()
		return false, nil
	}
	defer values.Release()
	if err := putter.PutDictionary(values); err != nil {
		return true, err
	}
	if ps := cw.PageStatistics(); ps != nil {
		ps.IncNulls(int64(nulls))
		ps.IncNumValues(int64(n - nulls))
		if values.Len() > 0 {
			if err := ps.UpdateFromArrow(values, false); err != nil {
				return true, err
			}
		}
	}
	bufs := []*memory.Buffer{validBuf, idxBuf}
	data := array.NewData(arrow.PrimitiveTypes.Int32, n, bufs, nil, nulls, 0)
	defer data.Release()
	indices := array.MakeFromData(data)
	defer indices.Release()
	return true, cw.WriteDictIndices(indices, ix.defs, nil)
}

// indexer receives the chunk's codes row by row: idx[pos] the code,
// valid (nil without nulls) and defs (nil for a required column) the
// row's presence.
type indexer struct {
	idx   []int32
	valid []byte
	defs  []int16
	pos   int
}

func (x *indexer) put(code int32) {
	x.idx[x.pos] = code
	if x.valid != nil {
		bitutil.SetBit(x.valid, x.pos)
	}
	if x.defs != nil {
		x.defs[x.pos] = 1
	}
	x.pos++
}

func (x *indexer) null() {
	if x.defs != nil {
		x.defs[x.pos] = 0
	}
	x.pos++
}

// scratch is one encoding worker's buffers, reused from column chunk to
// column chunk: the dictionary indices (allocated from the sink's
// allocator, released by release) and the definition levels.
type scratch struct {
	idx  *memory.Buffer
	defs []int16
}

// levels returns n definition levels to overwrite.
func (s *scratch) levels(n int) []int16 {
	if cap(s.defs) < n {
		s.defs = make([]int16, n)
	}
	return s.defs[:n]
}

func (s *scratch) release() {
	if s.idx != nil {
		s.idx.Release()
		s.idx = nil
	}
}

// pays reports whether a dictionary of dictBytes (PLAIN-encoded values)
// plus present bit-packed indices into distinct values is smaller than
// plainBytes, the PLAIN encoding of the present values.
func pays(dictBytes, plainBytes int64, distinct, present int) bool {
	width := int64(bits.Len(uint(max(distinct-1, 1))))
	return dictBytes+(int64(present)*width+7)/8 < plainBytes
}

// indexInts assigns codes to the values of int32 or int64 chunks and
// returns the values in code order, or false when the dictionary does
// not pay or exceeds limit bytes.
func indexInts[T int32 | int64](ix *indexer, chunks []arrow.Array, present int, limit int64) (arrow.Array, bool) {
	size := int64(arrow.GetDataType[T]().(arrow.FixedWidthDataType).Bytes())
	t := newCodeTable()
	var vals []T
	for _, c := range chunks {
		raw := c.(interface{ Values() []T }).Values()
		hasNulls := c.NullN() > 0
		for j, v := range raw {
			if hasNulls && c.IsNull(j) {
				ix.null()
				continue
			}
			k := uint64(v)
			code, slot := t.find(k)
			if code < 0 {
				code = int32(len(vals))
				vals = append(vals, v)
				t.insert(slot, k, code)
				if int64(len(vals))*size > limit {
					return nil, false
				}
			}
			ix.put(code)
		}
	}
	if !pays(int64(len(vals))*size, int64(present)*size, len(vals), present) {
		return nil, false
	}
	buf := memory.NewBufferBytes(arrow.GetBytes(vals))
	data := array.NewData(arrow.GetDataType[T](), len(vals), []*memory.Buffer{nil, buf}, nil, 0, 0)
	defer data.Release()
	return array.MakeFromData(data), true
}

// indexStrings assigns codes to the values of string or binary chunks
// (or Arrow dictionaries of them) and returns the values in code order,
// as valueType, or false when the dictionary does not pay or exceeds
// limit bytes. The PLAIN size of a string is 4 bytes of length plus its
// bytes; for Arrow dictionary chunks the dictionary is kept whenever it
// fits the limit (the producer chose it).
func indexStrings(ix *indexer, chunks []arrow.Array, valueType arrow.DataType, isDict bool, present int, limit int64, mem memory.Allocator) (arrow.Array, bool) {
	d := newStringDict(mem, valueType)
	defer d.release()
	var plainBytes int64
	for _, c := range chunks {
		if isDict {
			if !d.indexDictionary(ix, c.(*array.Dictionary), limit) {
				return nil, false
			}
			continue
		}
		offsets, data, n := binaryParts(c)
		plainBytes += n + 4*int64(c.Len()-c.NullN())
		var ok bool
		if offsets32, is32 := offsets.([]int32); is32 {
			ok = indexBinary(d, ix, c, offsets32, data, limit)
		} else {
			ok = indexBinary(d, ix, c, offsets.([]int64), data, limit)
		}
		if !ok {
			return nil, false
		}
	}
	if !isDict && !pays(d.bytes, plainBytes, d.len(), present) {
		return nil, false
	}
	return d.finish(), true
}

// binaryParts returns a string or binary array's value offsets ([]int32
// or []int64, one more than its rows, absolute in data), its whole data
// buffer and the bytes its rows span.
func binaryParts(a arrow.Array) (any, []byte, int64) {
	var data []byte
	if b := a.Data().Buffers()[2]; b != nil {
		data = b.Bytes()
	}
	switch a := a.(type) {
	case *array.String:
		o := a.ValueOffsets()
		return o, data, int64(o[len(o)-1] - o[0])
	case *array.Binary:
		o := a.ValueOffsets()
		return o, data, int64(o[len(o)-1] - o[0])
	case *array.LargeString:
		o := a.ValueOffsets()
		return o, data, o[len(o)-1] - o[0]
	case *array.LargeBinary:
		o := a.ValueOffsets()
		return o, data, o[len(o)-1] - o[0]
	}
	panic("parquet: binaryParts of " + a.DataType().String())
}

// indexBinary assigns codes to the rows of string or binary array c
// given its offsets and data; false when the dictionary exceeds limit
// bytes.
func indexBinary[O int32 | int64](d *stringDict, ix *indexer, c arrow.Array, offsets []O, data []byte, limit int64) bool {
	hasNulls := c.NullN() > 0
	if !hasNulls && ix.valid == nil {
		return indexBinaryDense(d, ix, offsets, data, limit)
	}
	for j := range len(offsets) - 1 {
		if hasNulls && c.IsNull(j) {
			ix.null()
			continue
		}
		ix.put(d.index(data[offsets[j]:offsets[j+1]]))
		if d.bytes > limit {
			return false
		}
	}
	return true
}

// indexBinaryDense is indexBinary for a chunk without nulls: the codes
// go straight into the index slice, strings of up to 7 bytes are packed
// and looked up in line, and the definition levels (if any) are set
// after the loop.
func indexBinaryDense[O int32 | int64](d *stringDict, ix *indexer, offsets []O, data []byte, limit int64) bool {
	n := len(offsets) - 1
	idx := ix.idx[ix.pos : ix.pos+n]
	t := d.short
	for j := range idx {
		v := data[offsets[j]:offsets[j+1]]
		if len(v) > 7 {
			idx[j] = d.index(v)
		} else {
			k := uint64(len(v)+1) << 56
			for i, c := range v {
				k |= uint64(c) << (8 * i)
			}
			code, slot := t.find(k)
			if code < 0 {
				code = d.next(v)
				t.insert(slot, k, code)
			}
			idx[j] = code
		}
		if d.bytes > limit {
			return false
		}
	}
	if ix.defs != nil {
		defs := ix.defs[ix.pos : ix.pos+n]
		for j := range defs {
			defs[j] = 1
		}
	}
	ix.pos += n
	return true
}

// indexDictionary assigns codes to the rows of Arrow dictionary array a:
// each distinct value of a's dictionary that a's rows use is hashed
// once; false when the dictionary exceeds limit bytes.
func (d *stringDict) indexDictionary(ix *indexer, a *array.Dictionary, limit int64) bool {
	dv := a.Dictionary()
	offsets, data, _ := binaryParts(dv)
	remap := make([]int32, dv.Len())
	for k := range remap {
		remap[k] = -1
	}
	value := func(k int) []byte {
		if o, ok := offsets.([]int32); ok {
			return data[o[k]:o[k+1]]
		}
		o := offsets.([]int64)
		return data[o[k]:o[k+1]]
	}
	switch ixs := a.Indices().(type) {
	case *array.Int8:
		return remapRows(d, ix, a, ixs.Values(), remap, value, limit)
	case *array.Uint8:
		return remapRows(d, ix, a, ixs.Values(), remap, value, limit)
	case *array.Int16:
		return remapRows(d, ix, a, ixs.Values(), remap, value, limit)
	case *array.Uint16:
		return remapRows(d, ix, a, ixs.Values(), remap, value, limit)
	case *array.Int32:
		return remapRows(d, ix, a, ixs.Values(), remap, value, limit)
	case *array.Uint32:
		return remapRows(d, ix, a, ixs.Values(), remap, value, limit)
	case *array.Int64:
		return remapRows(d, ix, a, ixs.Values(), remap, value, limit)
	case *array.Uint64:
		return remapRows(d, ix, a, ixs.Values(), remap, value, limit)
	}
	panic("parquet: dictionary indices of " + a.Indices().DataType().String())
}

func remapRows[I int8 | uint8 | int16 | uint16 | int32 | uint32 | int64 | uint64](d *stringDict, ix *indexer, a *array.Dictionary, keys []I, remap []int32, value func(int) []byte, limit int64) bool {
	hasNulls := a.NullN() > 0
	for j, k := range keys {
		if hasNulls && a.IsNull(j) {
			ix.null()
			continue
		}
		r := remap[k]
		if r < 0 {
			r = d.index(value(int(k)))
			remap[k] = r
			if d.bytes > limit {
				return false
			}
		}
		ix.put(r)
	}
	return true
}

// stringDict assigns dense int32 codes to byte strings in order of first
// use and keeps the values as an Arrow array of the column's value type.
// Strings of up to 7 bytes are looked up as one packed uint64 (short),
// longer ones through a Go map (long); a string is always in the same
// one of the two.
type stringDict struct {
	short *codeTable
	long  map[string]int32
	n     int32
	bytes int64 // PLAIN size of the values: 4 + len each
	b     array.Builder
	add   func([]byte)
}

func newStringDict(mem memory.Allocator, valueType arrow.DataType) *stringDict {
	d := &stringDict{short: newCodeTable(), long: make(map[string]int32)}
	switch bb := array.NewBuilder(mem, valueType).(type) {
	case *array.BinaryBuilder: // binary and large_binary
		d.b, d.add = bb, bb.Append
	case *array.StringBuilder:
		d.b, d.add = bb, bb.BinaryBuilder.Append
	case *array.LargeStringBuilder:
		d.b, d.add = bb, bb.BinaryBuilder.Append
	default:
		panic("parquet: stringDict of " + valueType.String())
	}
	return d
}

// index returns v's code. v may alias an Arrow buffer: it is copied
// only when new.
func (d *stringDict) index(v []byte) int32 {
	if len(v) <= 7 {
		k := uint64(len(v)+1) << 56
		for i, c := range v {
			k |= uint64(c) << (8 * i)
		}
		code, slot := d.short.find(k)
		if code < 0 {
			code = d.next(v)
			d.short.insert(slot, k, code)
		}
		return code
	}
	if c, ok := d.long[string(v)]; ok {
		return c
	}
	c := d.next(v)
	d.long[string(v)] = c
	return c
}

func (d *stringDict) next(v []byte) int32 {
	c := d.n
	d.n++
	d.bytes += 4 + int64(len(v))
	d.add(v)
	return c
}

func (d *stringDict) len() int            { return int(d.n) }
func (d *stringDict) finish() arrow.Array { return d.b.NewArray() }
func (d *stringDict) release()            { d.b.Release() }

// codeTable maps uint64 keys to int32 codes: open addressing with linear
// probing over a power-of-two table at most half full, Fibonacci
// hashing (the key times 2^64/phi, top bits).
type codeTable struct {
	keys  []uint64
	codes []int32 // code+1; 0 marks an empty slot
	shift uint
	n     int
}

func newCodeTable() *codeTable {
	t := &codeTable{}
	t.alloc(256)
	return t
}

func (t *codeTable) alloc(size int) {
	t.keys = make([]uint64, size)
	t.codes = make([]int32, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
}

// find returns k's code and slot, or -1 and the slot to insert k at.
func (t *codeTable) find(k uint64) (int32, int) {
	mask := len(t.keys) - 1
	i := int((k * 0x9E3779B97F4A7C15) >> t.shift)
	for {
		c := t.codes[i]
		if c == 0 {
			return -1, i
		}
		if t.keys[i] == k {
			return c - 1, i
		}
		i = (i + 1) & mask
	}
}

// insert puts k with code at slot, as returned by find(k).
func (t *codeTable) insert(slot int, k uint64, code int32) {
	t.keys[slot], t.codes[slot] = k, code+1
	t.n++
	if 2*t.n <= len(t.keys) {
		return
	}
	keys, codes := t.keys, t.codes
	t.alloc(2 * len(keys))
	for i, c := range codes {
		if c != 0 {
			_, s := t.find(keys[i])
			t.keys[s], t.codes[s] = keys[i], c
		}
	}
}
