package pcs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The dataset IPC layout: one Arrow IPC *file* (not stream) holding one
// RecordBatch. Its columns are every component's fields in registration
// order, named "component.field", each with field metadata
// pcs.component=<component> and pcs.field=<field>; when rows are deleted, a
// last boolean column "pcs.alive" (metadata pcs.alive=1) holds the alive
// bitmap. Schema metadata pcs.dataset=<version>. Any Arrow reader can read
// the file; ReadIPC rebuilds the components from the metadata.
const (
	ipcVersion   = "1"
	mdDataset    = "pcs.dataset"
	mdComponent  = "pcs.component"
	mdField      = "pcs.field"
	mdAlive      = "pcs.alive"
	aliveColName = "pcs.alive"
)

// WriteIPC writes the dataset's columns and alive bitmap (not its
// resources) to w as an Arrow IPC file. opts are passed to ipc.NewFileWriter
// (ipc.WithZstd() or ipc.WithLZ4() to compress bodies; ipc.WithAllocator).
// Returns the writer's errors wrapped.
func (ds *Dataset) WriteIPC(w io.Writer, opts ...ipc.Option) error {
	st := ds.st
	var fields []arrow.Field
	var cols []arrow.Array
	for _, c := range st.comps {
		for i, f := range c.schema.Fields() {
			f.Name = c.name + "." + f.Name
			f.Metadata = arrow.NewMetadata(append([]string{mdComponent, mdField}, f.Metadata.Keys()...),
				append([]string{c.name, c.schema.Field(i).Name}, f.Metadata.Values()...))
			fields = append(fields, f)
			cols = append(cols, c.cols[i])
		}
	}
	if st.deleted > 0 {
		mask := ds.AliveMask()
		defer mask.Release()
		fields = append(fields, arrow.Field{Name: aliveColName, Type: arrow.FixedWidthTypes.Boolean,
			Metadata: arrow.NewMetadata([]string{mdAlive}, []string{"1"})})
		cols = append(cols, mask)
	}
	md := arrow.NewMetadata([]string{mdDataset}, []string{ipcVersion})
	schema := arrow.NewSchema(fields, &md)
	rec := array.NewRecordBatch(schema, cols, int64(st.rows))
	defer rec.Release()
	fw, err := ipc.NewFileWriter(w, append([]ipc.Option{ipc.WithSchema(schema), ipc.WithAllocator(st.mem)}, opts...)...)
	if err != nil {
		return fmt.Errorf("pcs: write ipc: %w", err)
	}
	if err := fw.Write(rec); err != nil {
		_ = fw.Close()
		return fmt.Errorf("pcs: write ipc: %w", err)
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("pcs: write ipc: %w", err)
	}
	return nil
}

// ReadIPC decodes a dataset written by WriteIPC from data. Columns of an
// uncompressed buffer point into data (zero copy: decode time does not grow
// with rows), so data must stay unmodified while the dataset or any array
// from it is in use; a dataset with dictionary-encoded fields is copied
// instead (arrow-go v18.8.0's zero-copy reader cannot decode
// dictionaries). Compressed bodies are decompressed into mem
// (memory.DefaultAllocator if nil). Components come back as
// *DynamicComponent with their original names and schemas; resources are
// not restored. The IPC reader's size limits stay in force. Errors wrap
// ErrIPC (not a PCS dataset, or a corrupt buffer). On corrupt input
// ReadIPC returns an error rather than panicking or exhausting memory: it
// checks the metadata counts arrow-go's reader trusts, bounds what it
// decompresses, and turns the reader's panics into errors. It checks
// column lengths and bitmap sizes, not values: a crafted buffer can still
// hold, say, string offsets that panic when the value is read.
func ReadIPC(data []byte, mem memory.Allocator) (ds *Dataset, err error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	// A compressed buffer declares its uncompressed size, which arrow-go
	// allocates before decompressing: bound it by what the input can
	// decompress to, so a corrupt size fails instead of exhausting memory.
	ra := &readAllocator{Allocator: mem, limit: maxExpansion*int64(len(data)) + 1<<20, live: map[*byte][]byte{}}
	// arrow-go's IPC reader panics on some corrupt buffers (flatbuffers
	// offsets out of range); that is an error of the input, not of the
	// program. readIPC releases what it holds when it panics.
	defer func() {
		if p := recover(); p != nil {
			ds, err = nil, fmt.Errorf("%w: corrupt buffer: %v", ErrIPC, p)
		}
		ra.finish(err != nil)
	}()
	return readIPC(data, mem, ra)
}

func readIPC(data []byte, mem memory.Allocator, ra *readAllocator) (*Dataset, error) {
	dict, err := checkIPCMetadata(data)
	if err != nil {
		return nil, err
	}
	// A block can be no larger than the buffer holding it: that bound
	// replaces arrow-go's default 256 MiB body limit, which would refuse
	// large datasets that are perfectly valid.
	opts := []ipc.Option{ipc.WithAllocator(ra), ipc.WithBodySizeLimit(max(int64(len(data)), 1))}
	var fr *ipc.FileReader
	if dict {
		// arrow-go v18.8.0's mapped reader has no dictionary memo and
		// panics on dictionary-encoded fields: read those files by copy.
		fr, err = ipc.NewFileReader(bytes.NewReader(data), opts...)
	} else {
		fr, err = ipc.NewMappedFileReader(data, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIPC, err)
	}
	defer fr.Close()
	schema := fr.Schema()
	if v, ok := schema.Metadata().GetValue(mdDataset); !ok || v != ipcVersion {
		return nil, fmt.Errorf("%w: schema metadata %s=%q, want %q", ErrIPC, mdDataset, v, ipcVersion)
	}
	if fr.NumRecords() != 1 {
		return nil, fmt.Errorf("%w: %d record batches, want 1", ErrIPC, fr.NumRecords())
	}
	rec, err := fr.RecordBatchAt(0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIPC, err)
	}
	defer rec.Release()

	ds := NewDataset(mem)
	done := false
	defer func() {
		if !done {
			ds.Release()
		}
	}()
	st := ds.st
	st.rows = int(rec.NumRows())
	for i, f := range schema.Fields() {
		col := rec.Column(i)
		if col.Len() != st.rows {
			return nil, fmt.Errorf("%w: column %d %q has %d rows, record batch %d", ErrIPC, i, f.Name, col.Len(), st.rows)
		}
		if err := checkBitmaps(col); err != nil {
			return nil, fmt.Errorf("%w: column %d %q: %v", ErrIPC, i, f.Name, err)
		}
		if _, ok := f.Metadata.GetValue(mdAlive); ok {
			if err := ds.loadAlive(col); err != nil {
				return nil, err
			}
			continue
		}
		comp, ok1 := f.Metadata.GetValue(mdComponent)
		name, ok2 := f.Metadata.GetValue(mdField)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: column %d %q lacks %s/%s metadata", ErrIPC, i, f.Name, mdComponent, mdField)
		}
		k, ok := st.byName[comp]
		if !ok {
			k = len(st.comps)
			st.byName[comp] = k
			st.comps = append(st.comps, &compData{name: comp})
		}
		c := st.comps[k]
		f.Name = name
		f.Metadata = stripMetadata(f.Metadata)
		c.schema = appendField(c.schema, f)
		col.Retain()
		c.cols = append(c.cols, col)
	}
	done = true
	return ds, nil
}

func (ds *Dataset) loadAlive(col arrow.Array) error {
	b, ok := col.(*array.Boolean)
	if !ok || b.NullN() > 0 || b.Len() != ds.st.rows {
		return fmt.Errorf("%w: %s column must be %d non-null booleans", ErrIPC, aliveColName, ds.st.rows)
	}
	n := ds.st.rows
	if n == 0 {
		return nil
	}
	bm := make([]byte, bitutil.BytesForBits(int64(n)))
	bitutil.CopyBitmap(b.Data().Buffers()[1].Bytes(), b.Data().Offset(), n, bm, 0)
	ds.st.alive = bm
	ds.st.deleted = n - bitutil.CountSetBits(bm, 0, n)
	return nil
}

// checkBitmaps rejects a column whose validity bitmap, or boolean values,
// hold fewer bits than its offset and length need: arrow-go's IPC reader
// does not check them, and reading past them panics. O(1) per column.
func checkBitmaps(col arrow.Array) error {
	d := col.Data()
	if d.Len() == 0 {
		return nil
	}
	need := d.Offset() + d.Len()
	bufs := d.Buffers()
	if len(bufs) > 0 && bufs[0] != nil && bufs[0].Len()*8 < need {
		return fmt.Errorf("validity bitmap of %d bytes for %d rows", bufs[0].Len(), need)
	}
	if col.DataType().ID() == arrow.BOOL && (len(bufs) < 2 || bufs[1] == nil || bufs[1].Len()*8 < need) {
		return fmt.Errorf("boolean values too short for %d rows", need)
	}
	return nil
}

func stripMetadata(md arrow.Metadata) arrow.Metadata {
	var keys, vals []string
	for i, k := range md.Keys() {
		if k != mdComponent && k != mdField {
			keys, vals = append(keys, k), append(vals, md.Values()[i])
		}
	}
	return arrow.NewMetadata(keys, vals)
}

func appendField(s *arrow.Schema, f arrow.Field) *arrow.Schema {
	var fields []arrow.Field
	if s != nil {
		fields = s.Fields()
	}
	return arrow.NewSchema(append(fields, f), nil)
}

// maxExpansion bounds how much the bytes of a compressed IPC buffer expand:
// an LZ4 frame at most about 255 times, a zstd frame at most 32768 times
// (an RLE block regenerates 128 KiB from 4 bytes).
const maxExpansion = 1 << 15

// readAllocator is the allocator ReadIPC gives arrow-go's IPC reader. It
// refuses to hold more than limit bytes at once (a panic, which ReadIPC
// turns into an ErrIPC error; no valid input comes near the limit), and
// until finish it tracks its allocations, so that finish can free those
// the reader drops without freeing when it fails on a corrupt buffer.
type readAllocator struct {
	memory.Allocator
	limit int64

	mu   sync.Mutex
	held int64
	live map[*byte][]byte // nil once the read is over
}

func (a *readAllocator) Allocate(n int) []byte {
	a.check(n)
	a.reserve(n)
	b := a.Allocator.Allocate(n)
	a.track(nil, b)
	return b
}

func (a *readAllocator) Reallocate(n int, b []byte) []byte {
	a.check(n)
	a.reserve(n - len(b))
	nb := a.Allocator.Reallocate(n, b)
	a.track(b, nb)
	return nb
}

func (a *readAllocator) Free(b []byte) {
	a.mu.Lock()
	a.held -= int64(len(b))
	if len(b) > 0 {
		delete(a.live, &b[0])
	}
	a.mu.Unlock()
	a.Allocator.Free(b)
}

// check refuses a negative size (a corrupt declared buffer size), which
// the allocator below would count before failing on it.
func (a *readAllocator) check(n int) {
	if n < 0 {
		panic(fmt.Sprintf("pcs: ipc buffer of negative size %d", n))
	}
}

func (a *readAllocator) reserve(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n > 0 && a.held+int64(n) > a.limit {
		panic(fmt.Sprintf("pcs: ipc buffer of %d bytes exceeds what the input can decompress to", n))
	}
	a.held += int64(n)
}

func (a *readAllocator) track(old, b []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.live == nil {
		return
	}
	if len(old) > 0 {
		delete(a.live, &old[0])
	}
	if len(b) > 0 {
		a.live[&b[0]] = b
	}
}

// finish ends the tracking. After a failed read it frees what the reader
// left allocated: nothing can reference it any more.
func (a *readAllocator) finish(failed bool) {
	a.mu.Lock()
	live := a.live
	a.live = nil
	a.mu.Unlock()
	if failed {
		for _, b := range live {
			a.Free(b)
		}
	}
}

// checkIPCMetadata checks the flatbuffers counts that arrow-go's file
// reader (v18.8.0) trusts before it reads what they count: the lengths of
// the schema's field, children and custom metadata vectors and of the
// record batch message's custom metadata, which it allocates slices by
// (a corrupt length is a fatal out-of-memory, not a recoverable panic),
// the nesting of fields, which it recurses into (a cycle overflows the
// stack), and the record batch's variadic buffer counts. Reads mirror
// flatbuffers-go's uint32 arithmetic; what arrow-go checks itself, or
// fails on with a panic, is left to it. dict reports whether a field is
// dictionary-encoded.
func checkIPCMetadata(data []byte) (dict bool, err error) {
	n := len(data)
	const eof = 10 // footer size (4) and magic (6)
	if n <= 16 || string(data[n-6:]) != "ARROW1" {
		return false, nil
	}
	size := int64(binary.LittleEndian.Uint32(data[n-eof:]))
	if size <= 0 || size+16 > int64(n) {
		return false, nil
	}
	r := &fbReader{buf: data[int64(n)-eof-size : n-eof]}
	r.budget = len(r.buf) / 4
	footer := r.u32(0)
	if f := r.field(footer, 6); f != 0 {
		schema := r.indirect(f)
		nf, start := r.vector(schema, 6, 4)
		for i := uint32(0); i < nf && !r.bad; i++ {
			r.checkField(r.indirect(start+4*i), 0)
		}
		r.vector(schema, 8, 4)
	}
	if r.bad {
		return false, fmt.Errorf("%w: corrupt schema in footer", ErrIPC)
	}
	if err := checkBlocks(data, r, 8, true); err != nil { // dictionaries
		return false, err
	}
	return r.dict, checkBlocks(data, r, 10, false) // record batches
}

// checkBlocks checks the messages of the file blocks (offset int64,
// metadata length int32, body length int64) of footer vector vt.
func checkBlocks(data []byte, footer *fbReader, vt uint32, dict bool) error {
	nb, start := footer.vector(footer.u32(0), vt, 24)
	for i := uint32(0); i < nb; i++ {
		blk := footer.buf[start+24*i:]
		off := int64(binary.LittleEndian.Uint64(blk))
		meta := int64(int32(binary.LittleEndian.Uint32(blk[8:])))
		if off < 0 || meta < 8 || off > int64(len(data))-meta {
			continue // arrow-go refuses the block itself
		}
		msg := data[off : off+meta]
		prefix := 4
		if binary.LittleEndian.Uint32(msg) == 0xFFFFFFFF {
			prefix = 8
		}
		m := &fbReader{buf: msg[prefix:]}
		root := m.u32(0)
		m.vector(root, 12, 4) // custom metadata
		if h := m.field(root, 8); h != 0 && !m.bad {
			batch := m.indirect(h)
			if dict { // DictionaryBatch: its RecordBatch is field data
				if d := m.field(batch, 6); d != 0 && !m.bad {
					batch = m.indirect(d)
				}
			}
			nbuf, _ := m.vector(batch, 8, 16)
			nv, vstart := m.vector(batch, 12, 8)
			for i := uint32(0); i < nv && !m.bad; i++ {
				if c := int64(binary.LittleEndian.Uint64(m.buf[vstart+8*i:])); c < 0 || c > int64(nbuf) {
					m.bad = true
				}
			}
		}
		if m.bad {
			return fmt.Errorf("%w: corrupt metadata in file block %d", ErrIPC, i)
		}
	}
	return nil
}

// fbReader reads a flatbuffer the way flatbuffers-go does, but marks
// itself bad instead of reading out of bounds.
type fbReader struct {
	buf    []byte
	bad    bool
	budget int  // fields left to visit
	dict   bool // a field has a dictionary encoding
}

func (r *fbReader) u16(off uint32) uint32 {
	if uint64(off)+2 > uint64(len(r.buf)) {
		r.bad = true
		return 0
	}
	return uint32(binary.LittleEndian.Uint16(r.buf[off:]))
}

func (r *fbReader) u32(off uint32) uint32 {
	if uint64(off)+4 > uint64(len(r.buf)) {
		r.bad = true
		return 0
	}
	return binary.LittleEndian.Uint32(r.buf[off:])
}

func (r *fbReader) indirect(off uint32) uint32 { return off + r.u32(off) }

// field returns the position of the field at vtable offset vt of the table
// at t, or 0 if the table lacks it.
func (r *fbReader) field(t, vt uint32) uint32 {
	vtable := uint32(int32(t) - int32(r.u32(t)))
	if r.bad || vt >= r.u16(vtable) {
		return 0
	}
	if o := r.u16(vtable + vt); o != 0 && !r.bad {
		return t + o
	}
	return 0
}

// vector returns the length and first element of the vector field vt of
// the table at t, and marks r bad if its elements of elem bytes overrun
// the buffer.
func (r *fbReader) vector(t, vt, elem uint32) (n, start uint32) {
	f := r.field(t, vt)
	if f == 0 {
		return 0, 0
	}
	v := r.indirect(f)
	n = r.u32(v)
	if r.bad || uint64(v)+4+uint64(n)*uint64(elem) > uint64(len(r.buf)) {
		r.bad = true
		return 0, 0
	}
	return n, v + 4
}

// checkField checks the Field table at p and its children, at most 64
// levels deep and no more fields than the buffer can hold.
func (r *fbReader) checkField(p uint32, depth int) {
	if r.budget--; r.budget < 0 || depth > 64 {
		r.bad = true
		return
	}
	if r.field(p, 12) != 0 {
		r.dict = true
	}
	r.vector(p, 16, 4) // custom metadata
	nc, start := r.vector(p, 14, 4)
	for i := uint32(0); i < nc && !r.bad; i++ {
		r.checkField(r.indirect(start+4*i), depth+1)
	}
}
