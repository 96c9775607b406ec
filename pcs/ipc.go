package pcs

import (
	"bytes"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/ipcguard"
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
// checks the metadata counts arrow-go's reader trusts
// (ipcguard.CheckFile; its errors also wrap ipcguard.ErrCorrupt), bounds
// what it decompresses (ipcguard.LimitAllocator), and turns the reader's
// panics into errors. It checks column lengths and bitmap sizes, not
// values: a crafted buffer can still hold, say, string offsets that
// panic when the value is read.
func ReadIPC(data []byte, mem memory.Allocator) (ds *Dataset, err error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	// A compressed buffer declares its uncompressed size, which arrow-go
	// allocates before decompressing: bound it by what the input can
	// decompress to, so a corrupt size fails instead of exhausting memory.
	ra := ipcguard.NewLimitAllocator(mem, ipcguard.MaxExpansion*int64(len(data))+1<<20)
	// arrow-go's IPC reader panics on some corrupt buffers (flatbuffers
	// offsets out of range); that is an error of the input, not of the
	// program. readIPC releases what it holds when it panics, and Finish
	// frees what arrow-go dropped on a failure.
	defer func() {
		if p := recover(); p != nil {
			ds, err = nil, fmt.Errorf("%w: corrupt buffer: %v", ErrIPC, p)
		}
		ra.Finish(err != nil)
	}()
	return readIPC(data, mem, ra)
}

func readIPC(data []byte, mem memory.Allocator, ra *ipcguard.LimitAllocator) (*Dataset, error) {
	info, err := ipcguard.CheckFile(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIPC, err)
	}
	// A block can be no larger than the buffer holding it: that bound
	// replaces arrow-go's default 256 MiB body limit, which would refuse
	// large datasets that are perfectly valid.
	opts := []ipc.Option{ipc.WithAllocator(ra), ipc.WithBodySizeLimit(max(int64(len(data)), 1))}
	var fr *ipc.FileReader
	if info.Dictionaries {
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
