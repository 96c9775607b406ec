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
// skip the encoding: a single string key is read from the column's
// buffers (stringIDs: short strings packed into a word and looked up in
// short, longer ones hashed as strings), and a single dictionary<string>
// key looks up each dictionary entry once and maps rows through their
// indices. The ids and hashes of idx are the same on every path, so
// ShardOf routes a key the same way from any column encoding.
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

// stringIDs assigns ids to the rows of one string key column, reading
// the column's offsets and data buffers directly. A non-null string of
// up to 7 bytes is packed with its length into a uint64 (one unaligned
// 8-byte load, masked) and looked up in b.short, where a hit is one
// compare of two words and no key bytes; a miss, a null, or a longer
// string goes to b.idx (hash, then the key bytes compared on a hash
// match). Nothing is allocated per row. Runs of rows without nulls whose
// keys are known go through shortRun, a loop without calls (the Go
// compiler keeps its state in registers).
func stringIDs[O int32 | int64](b *batchKeys, a arrow.Array, offs []O, data []byte, ids []int32) {
	o0 := offs[0]
	offs = offs[:len(ids)+1]
	nulls := a.NullN() > 0
	sh := &b.short
	fast := !nulls
	var raw []byte // the data buffer that offs index
	if fast {
		if buf := a.Data().Buffers()[2]; buf != nil {
			raw = buf.Bytes()
		}
	}
	for i := 0; i < len(ids); i++ {
		if fast {
			if i = shortRun(sh, offs, raw, ids, i); i == len(ids) {
				return
			}
		}
		s0, s1 := int(offs[i]-o0), int(offs[i+1]-o0)
		n := s1 - s0
		if n > 7 || (nulls && a.IsNull(i)) {
			s, flag := bstr(data[s0:s1]), byte(1)
			if nulls && a.IsNull(i) {
				s, flag = "", 0
			}
			ids[i] = b.idx.findStr(s, flag, strKeyHash(s, flag))
			continue
		}
		packed := packShort(data, s0, n)
		if id, ok := sh.get(packed); ok {
			ids[i] = id
			continue
		}
		s := bstr(data[s0:s1])
		id := b.idx.findStr(s, 1, strKeyHash(s, 1))
		sh.put(packed, id)
		ids[i] = id
	}
}

// packShort packs the n <= 7 bytes at data[s0:] with n into a non-zero
// uint64 (0 marks an empty slot of shortIndex).
func packShort(data []byte, s0, n int) uint64 {
	var v uint64
	if s0+8 <= len(data) {
		v = binary.LittleEndian.Uint64(data[s0:]) & (^uint64(0) >> (64 - 8*n))
	} else {
		for k := n - 1; k >= 0; k-- {
			v = v<<8 | uint64(data[s0+k])
		}
	}
	return v | uint64(n+1)<<56
}

// shortRun assigns ids to rows i, i+1, ... of a string column without
// nulls while their keys are short (<= 7 bytes), away from the end of
// the data (an 8-byte load stays inside) and already in sh; it returns
// the first row it could not assign. offs and data are the column's raw
// buffers (offsets not rebased). It makes no calls and keeps few values
// live, so that the Go compiler holds them all in registers.
func shortRun[O int32 | int64](sh *shortIndex, offs []O, data []byte, ids []int32, i int) int {
	ents, mask := sh.ents, sh.mask
	data = data[:max(len(data)-7, 0)] // data[s0:s0+8] is inside the buffer iff s0 < len(data)
	offs = offs[i : len(ids)+1]
	ids = ids[i:]
	for j := range ids {
		s0 := uint(offs[j])
		n := uint(offs[j+1]) - s0
		if n > 7 || s0 >= uint(len(data)) {
			return i + j
		}
		v := binary.LittleEndian.Uint64(data[s0:s0+8:s0+8])&shortMasks[n&7] | uint64(n+1)<<56
		at := shortHash(v) & mask
		for {
			e := &ents[at]
			if e.key == v {
				ids[j] = e.id
				break
			}
			if e.key == 0 {
				return i + j
			}
			at = (at + 1) & mask
		}
	}
	return i + len(ids)
}

// shortMasks[n] keeps the low n bytes of a word.
var shortMasks = [8]uint64{0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff}

// shortIndex maps packed short keys (never 0) to ids: an open-addressing
// table with linear probing, kept at most 1/4 full so that most lookups
// hit the first slot.
type shortIndex struct {
	ents []shortEnt
	mask uint64
	n    int
}

type shortEnt struct {
	key uint64 // 0: empty
	id  int32
}

func (x *shortIndex) reset() {
	if x.ents == nil {
		x.ents, x.mask = make([]shortEnt, 1024), 1023
	}
	if x.n > 0 {
		clear(x.ents)
		x.n = 0
	}
}

func shortHash(k uint64) uint64 {
	k *= 0x9E3779B97F4A7C15
	return k ^ k>>29
}

func (x *shortIndex) get(k uint64) (int32, bool) {
	for i := shortHash(k) & x.mask; ; i = (i + 1) & x.mask {
		switch x.ents[i].key {
		case k:
			return x.ents[i].id, true
		case 0:
			return 0, false
		}
	}
}

func (x *shortIndex) put(k uint64, id int32) {
	if 4*(x.n+1) > len(x.ents) {
		old := x.ents
		x.ents = make([]shortEnt, 2*len(old))
		x.mask = uint64(len(x.ents) - 1)
		x.n = 0
		for _, e := range old {
			if e.key != 0 {
				x.put(e.key, e.id)
			}
		}
	}
	i := shortHash(k) & x.mask
	for x.ents[i].key != 0 {
		i = (i + 1) & x.mask
	}
	x.ents[i] = shortEnt{k, id}
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
// id in bp.slotPane and bp.slotKid. times are event times (ms), or pane
// starts (a pane start is in its own pane); lo and hi are their range
// when keep is nil.
// It returns the slots (slots, or kids
// itself when every row is kept and in one pane) and their number.
func (o *Operator) paneSlots(bp *batchPartial, times []int64, lo, hi int64, keep, kids, slots []int32) ([]int32, int) {
	bp.slotPane, bp.slotKid = bp.slotPane[:0], bp.slotKid[:0]
	if len(slots) == 0 {
		return slots, 0
	}
	// panes by number (paneIndex); a calendar pane's bounds are cached
	// so that consecutive rows of one month skip the date arithmetic
	cs, ce, ci := int64(1), int64(0), int64(0) // cached calendar pane [cs, ce), number ci
	idxOf := func(t int64) int64 {
		if o.months == 0 {
			return floorDiv(t-o.off, o.pane)
		}
		if t < cs || t >= ce {
			ci = o.paneIndex(t)
			cs, ce = monthStart(ci*o.months), monthStart((ci+1)*o.months)
		}
		return ci
	}
	startOf := func(i int64) int64 {
		if o.months > 0 {
			return monthStart(i * o.months)
		}
		return o.off + i*o.pane
	}
	if keep != nil {
		lo, hi = math.MaxInt64, math.MinInt64
		for _, r := range keep {
			lo, hi = min(lo, times[r]), max(hi, times[r])
		}
	}
	i0, i1 := idxOf(lo), idxOf(hi)
	nk := bp.bk.idx.len()
	if i0 == i1 && keep == nil {
		p0 := startOf(i0)
		for k := range nk {
			bp.slotPane = append(bp.slotPane, p0)
			bp.slotKid = append(bp.slotKid, int32(k))
		}
		return kids, nk
	}
	np := uint64(i1-i0) + 1
	if np*uint64(nk) <= 1<<20 {
		dense := grow(bp.dense, int(np)*nk)
		bp.dense = dense
		for i := range dense {
			dense[i] = -1
		}
		// every time is >= the start of pane i0: a fixed pane's number is
		// an unsigned division, without the call and the floor of idxOf
		p0, pane := uint64(startOf(i0)), uint64(max(o.pane, 1))
		for j := range slots {
			r := rowOf(keep, j)
			var pi int64
			if o.months == 0 {
				pi = i0 + int64((uint64(times[r])-p0)/pane)
			} else {
				pi = idxOf(times[r])
			}
			at := int(pi-i0)*nk + int(kids[r])
			s := dense[at]
			if s < 0 {
				s = int32(len(bp.slotPane))
				dense[at] = s
				bp.slotPane = append(bp.slotPane, startOf(pi))
				bp.slotKid = append(bp.slotKid, kids[r])
			}
			slots[j] = s
		}
		return slots, len(bp.slotPane)
	}
	m := map[[2]int64]int32{}
	for j := range slots {
		r := rowOf(keep, j)
		pi := idxOf(times[r])
		s, ok := m[[2]int64{pi, int64(kids[r])}]
		if !ok {
			s = int32(len(bp.slotPane))
			m[[2]int64{pi, int64(kids[r])}] = s
			bp.slotPane = append(bp.slotPane, startOf(pi))
			bp.slotKid = append(bp.slotKid, kids[r])
		}
		slots[j] = s
	}
	return slots, len(bp.slotPane)
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
