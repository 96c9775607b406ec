package window

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/zeebo/xxh3"
)

// batchKeys gives every row of a batch the id of its key in idx. Keys are
// the encoded bytes of groupby.go; their hash is keyHash. Two fast paths
// skip the encoding: a single string key hashes the string itself, and a
// single dictionary<string> key looks up each dictionary entry once and
// maps rows through their indices.
type batchKeys struct {
	idx     keyIndex
	enc     keyEncoder
	ids     []int32
	strs    []string
	dictIDs []int32
	short   shortIndex
}

// dictIDs maps the rows of a dictionary key column to the ids of their
// dictionary entries (dids); null rows get the id of the null key.
func dictIDs[T int8 | int16 | int32 | int64](b *batchKeys, d *array.Dictionary, ix []T, dids, ids []int32) {
	ix = ix[:len(ids)]
	if d.NullN() == 0 {
		for i, x := range ix {
			ids[i] = dids[x]
		}
		return
	}
	nullID := b.idx.findStr("", 0, strKeyHash("", 0))
	for i, x := range ix {
		if d.IsNull(i) {
			ids[i] = nullID
		} else {
			ids[i] = dids[x]
		}
	}
}

// stringIDs assigns ids to the rows of one string key column: strings of
// up to 6 bytes are packed with their length and validity into a uint64
// and looked up in b.short (one compare per probe); a miss, or a longer
// string, goes to b.idx.
func stringIDs[O int32 | int64](b *batchKeys, a arrow.Array, offs []O, data []byte, ids []int32) {
	o0 := offs[0]
	nulls := a.NullN() > 0
	for i := range ids {
		s := bstr(data[offs[i]-o0 : offs[i+1]-o0])
		flag := byte(1)
		if nulls && a.IsNull(i) {
			s, flag = "", 0
		}
		n := len(s)
		if n > 6 {
			ids[i] = b.idx.findStr(s, flag, strKeyHash(s, flag))
			continue
		}
		var v uint64
		switch {
		case n >= 4:
			b := unsafe.Slice(unsafe.StringData(s), n)
			v = uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<((n-4)*8)
		case n > 0:
			v = uint64(s[0]) | uint64(s[n>>1])<<((n>>1)*8) | uint64(s[n-1])<<((n-1)*8)
		}
		packed := v | uint64(n)<<48 | uint64(flag)<<56 | 1<<63
		if at := shortHash(packed) & b.short.mask; b.short.keys[at] == packed {
			ids[i] = b.short.ids[at] // the common case: first probe
			continue
		}
		if id, ok := b.short.get(packed); ok {
			ids[i] = id
			continue
		}
		id := b.idx.findStr(s, flag, strKeyHash(s, flag))
		b.short.put(packed, id)
		ids[i] = id
	}
}

// shortIndex maps packed short keys (never 0) to ids.
type shortIndex struct {
	keys []uint64
	ids  []int32
	mask uint64
	n    int
}

func (x *shortIndex) reset() {
	if x.keys == nil {
		x.keys, x.ids, x.mask = make([]uint64, 1024), make([]int32, 1024), 1023
	}
	if x.n > 0 {
		clear(x.keys)
		x.n = 0
	}
}

func shortHash(k uint64) uint64 {
	k *= 0x9E3779B97F4A7C15
	return k ^ k>>29
}

func (x *shortIndex) get(k uint64) (int32, bool) {
	for i := shortHash(k) & x.mask; ; i = (i + 1) & x.mask {
		switch x.keys[i] {
		case k:
			return x.ids[i], true
		case 0:
			return 0, false
		}
	}
}

func (x *shortIndex) put(k uint64, id int32) {
	if 4*(x.n+1) > len(x.keys) { // load <= 1/4: most lookups hit the first slot
		old, oldIDs := x.keys, x.ids
		x.keys, x.ids = make([]uint64, 2*len(old)), make([]int32, 2*len(old))
		x.mask = uint64(len(x.keys) - 1)
		x.n = 0
		for i, ok := range old {
			if ok != 0 {
				x.put(ok, oldIDs[i])
			}
		}
	}
	i := shortHash(k) & x.mask
	for x.keys[i] != 0 {
		i = (i + 1) & x.mask
	}
	x.keys[i], x.ids[i] = k, id
	x.n++
}

// singleString reports whether the keys are one string column, for which
// keyHash hashes the string (strKeyHash) instead of the encoded bytes.
func singleString(cols []keyCol) bool { return len(cols) == 1 && cols[0].kind == keyString }

// keyHash is the hash of an encoded key.
func keyHash(single bool, enc []byte) uint64 {
	if single {
		return strKeyHash(bstr(enc[1:]), enc[0])
	}
	return xxh3.Hash(enc)
}

// strKeyHash hashes a string key with its validity byte: short strings
// (up to 8 bytes, airport codes, currencies, ...) with two loads and a
// multiply-xorshift mix, longer ones with xxh3.
func strKeyHash(s string, flag byte) uint64 {
	n := len(s)
	var v uint64
	switch {
	case n == 0:
	case n < 4:
		v = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	case n <= 8:
		b := unsafe.Slice(unsafe.StringData(s), n)
		v = uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<32
	default:
		return xxh3.HashStringSeed(s, uint64(flag))
	}
	h := v ^ (uint64(n)<<3|uint64(flag))*0x9E3779B97F4A7C15
	h ^= h >> 31
	h *= 0xD6E8FEB86659FD93
	h ^= h >> 32
	return h
}

// assign empties idx and returns the key id of each of the n rows of
// arrs (one array per key column).
func (b *batchKeys) assign(cols []keyCol, arrs []arrow.Array, n int) []int32 {
	b.idx.reset()
	ids := grow(b.ids, n)
	b.ids = ids
	switch {
	case len(cols) == 0:
		clear(ids)
		if n > 0 {
			b.idx.find(nil, keyHash(false, nil))
		}
	case singleString(cols):
		if d, ok := arrs[0].(*array.Dictionary); ok {
			dict := stringsOf(d.Dictionary(), b.strs)
			b.strs = dict
			dids := grow(b.dictIDs, len(dict))
			b.dictIDs = dids
			for j, s := range dict {
				dids[j] = b.idx.findStr(s, 1, strKeyHash(s, 1))
			}
			switch ix := d.Indices().(type) {
			case *array.Int8:
				dictIDs(b, d, ix.Int8Values(), dids, ids)
			case *array.Int16:
				dictIDs(b, d, ix.Int16Values(), dids, ids)
			case *array.Int32:
				dictIDs(b, d, ix.Int32Values(), dids, ids)
			case *array.Int64:
				dictIDs(b, d, ix.Int64Values(), dids, ids)
			default:
				dictIDs(b, d, int64s(ix, nil), dids, ids)
			}
			return ids
		}
		b.short.reset()
		switch a := arrs[0].(type) {
		case *array.String:
			stringIDs(b, a, a.ValueOffsets(), a.ValueBytes(), ids)
		case *array.LargeString:
			stringIDs(b, a, a.ValueOffsets(), a.ValueBytes(), ids)
		}
	default:
		b.enc.cols = cols
		b.enc.encode(arrs, nil, n)
		for i := range ids {
			ids[i] = b.idx.find(b.enc.row(i), b.enc.hash[i])
		}
	}
	return ids
}

// findStr is find for the encoding of one string key: flag, then s.
func (x *keyIndex) findStr(s string, flag byte, h uint64) int32 {
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
			x.arena = append(x.arena, flag)
			x.arena = append(x.arena, s...)
			x.offs = append(x.offs, int32(len(x.arena)))
			return id
		}
		id := e - 1
		if x.hashes[id] == h {
			if k := x.arena[x.offs[id]:x.offs[id+1]]; len(k) == len(s)+1 && k[0] == flag && string(k[1:]) == s {
				return id
			}
		}
		i = (i + 1) & x.mask
	}
}

// paneSlots gives each kept row (rowOf(keep, j)) a slot of the batch
// partial, one per (pane, key) present, recording each slot's pane and key
// id in o.slotPane and o.slotKid. times are event times (ms), or pane
// starts already when aligned; lo and hi are their range when keep is nil.
// It returns the slots (slots, or kids
// itself when every row is kept and in one pane) and their number.
func (o *Operator) paneSlots(times []int64, aligned bool, lo, hi int64, keep, kids, slots []int32) ([]int32, int) {
	o.slotPane, o.slotKid = o.slotPane[:0], o.slotKid[:0]
	if len(slots) == 0 {
		return slots, 0
	}
	paneOf := func(t int64) int64 {
		if aligned {
			return t
		}
		return align(t, o.pane, o.off)
	}
	if keep != nil {
		lo, hi = math.MaxInt64, math.MinInt64
		for _, r := range keep {
			lo, hi = min(lo, times[r]), max(hi, times[r])
		}
	}
	p0, p1 := paneOf(lo), paneOf(hi)
	nk := o.bk.idx.len()
	if p0 == p1 && keep == nil {
		for k := range nk {
			o.slotPane = append(o.slotPane, p0)
			o.slotKid = append(o.slotKid, int32(k))
		}
		return kids, nk
	}
	np := uint64(p1-p0)/uint64(o.pane) + 1
	if np*uint64(nk) <= 1<<20 {
		dense := grow(o.dense, int(np)*nk)
		o.dense = dense
		for i := range dense {
			dense[i] = -1
		}
		for j := range slots {
			r := rowOf(keep, j)
			at := int((paneOf(times[r])-p0)/o.pane)*nk + int(kids[r])
			s := dense[at]
			if s < 0 {
				s = int32(len(o.slotPane))
				dense[at] = s
				o.slotPane = append(o.slotPane, paneOf(times[r]))
				o.slotKid = append(o.slotKid, kids[r])
			}
			slots[j] = s
		}
		return slots, len(o.slotPane)
	}
	m := map[[2]int64]int32{}
	for j := range slots {
		r := rowOf(keep, j)
		ps := paneOf(times[r])
		s, ok := m[[2]int64{ps, int64(kids[r])}]
		if !ok {
			s = int32(len(o.slotPane))
			m[[2]int64{ps, int64(kids[r])}] = s
			o.slotPane = append(o.slotPane, ps)
			o.slotKid = append(o.slotKid, kids[r])
		}
		slots[j] = s
	}
	return slots, len(o.slotPane)
}

// keyArrays returns the key columns of rec: by input index when input,
// else the first len(keys) columns (partial and snapshot batches).
func (o *Operator) keyArrays(rec arrow.RecordBatch, input bool) []arrow.Array {
	arrs := make([]arrow.Array, len(o.keys))
	for c, k := range o.keys {
		if input {
			arrs[c] = rec.Column(k.idx)
		} else {
			arrs[c] = rec.Column(c)
		}
	}
	return arrs
}
