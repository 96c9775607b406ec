package parquet

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// rowGroupWriter writes whole row groups to one Parquet file. Two kinds:
// columnWriter (flat schemas: every column chunk of a row group is
// encoded concurrently) and tableWriter (pqarrow's FileWriter, column
// after column; any schema).
type rowGroupWriter interface {
	// writeRowGroup writes recs (n rows, the sink's schema) as one row
	// group. It does not take ownership of recs.
	writeRowGroup(recs []arrow.RecordBatch, n int64) error
	TotalCompressedBytes() int64
	TotalBytesWritten() int64
	Close() error
}

// newRowGroupWriter returns the concurrent writer when schema is flat and
// pqarrow's otherwise. Both write the same file: the same Parquet schema,
// the Arrow schema in the footer (ARROW:schema), the same properties.
func newRowGroupWriter(schema *arrow.Schema, w io.Writer, props *pq.WriterProperties, arrProps pqarrow.ArrowWriterProperties) (rowGroupWriter, error) {
	if flatSchema(schema) {
		return newColumnWriter(schema, w, props, arrProps)
	}
	fw, err := pqarrow.NewFileWriter(schema, w, props, arrProps)
	if err != nil {
		return nil, err
	}
	return tableWriter{fw}, nil
}

type tableWriter struct{ *pqarrow.FileWriter }

func (t tableWriter) writeRowGroup(recs []arrow.RecordBatch, n int64) error {
	tbl := array.NewTableFromRecords(recs[0].Schema(), recs)
	defer tbl.Release()
	return t.WriteTable(tbl, n)
}

// flatSchema reports whether every field of schema is one Parquet leaf
// the column writer handles: no nesting, no extension or null type, and
// dictionaries only over primitive or binary values.
func flatSchema(schema *arrow.Schema) bool {
	for _, f := range schema.Fields() {
		t := f.Type
		if d, ok := t.(*arrow.DictionaryType); ok {
			t = d.ValueType
			if !arrow.IsPrimitive(t.ID()) && !arrow.IsBaseBinary(t.ID()) {
				return false
			}
		}
		switch {
		case t.ID() == arrow.NULL || t.ID() == arrow.EXTENSION || t.ID() == arrow.DICTIONARY:
			return false
		case arrow.IsNested(t.ID()) || arrow.IsListLike(t.ID()) || arrow.IsUnion(t.ID()):
			return false
		case t.ID() == arrow.RUN_END_ENCODED || t.ID() == arrow.STRING_VIEW || t.ID() == arrow.BINARY_VIEW:
			return false
		}
	}
	return true
}

// columnWriter writes each row group as a buffered row group (every
// column chunk's pages held in memory until the row group closes), so
// the column chunks are independent: up to GOMAXPROCS goroutines encode
// and compress them at once, each with its own Arrow write context.
// Dictionary columns whose batches carry different dictionaries (one per
// partition, as the pipeline's lookups make them) are unified first, so
// each chunk is written as one dictionary plus indices instead of
// falling back to plain encoding at the first change.
type columnWriter struct {
	w        *file.Writer
	schema   *arrow.Schema
	arrProps pqarrow.ArrowWriterProperties
	workers  int
	scratch  []scratch // per worker
	order    []int     // the columns in the order workers take them
}

func newColumnWriter(schema *arrow.Schema, w io.Writer, props *pq.WriterProperties, arrProps pqarrow.ArrowWriterProperties) (*columnWriter, error) {
	pqSchema, err := pqarrow.ToParquet(schema, props, arrProps)
	if err != nil {
		return nil, err
	}
	// As pqarrow.NewFileWriter with WithStoreSchema: the schema's own
	// metadata, then the serialized Arrow schema (flat schemas need no
	// normalizing of list element names).
	meta := make(metadata.KeyValueMetadata, 0, schema.Metadata().Len()+1)
	for i, k := range schema.Metadata().Keys() {
		if err := meta.Append(k, schema.Metadata().Values()[i]); err != nil {
			return nil, err
		}
	}
	if err := meta.Append("ARROW:schema", base64.StdEncoding.EncodeToString(flight.SerializeSchema(schema, props.Allocator()))); err != nil {
		return nil, err
	}
	fw, err := file.NewParquetWriterWithError(w, pqSchema.Root(), file.WithWriterProps(props), file.WithWriteMetadata(meta))
	if err != nil {
		return nil, err
	}
	workers := min(runtime.GOMAXPROCS(0), len(schema.Fields()))
	return &columnWriter{w: fw, schema: schema, arrProps: arrProps, workers: workers, scratch: make([]scratch, workers), order: encodeOrder(schema)}, nil
}

// encodeOrder returns the column indices of schema, the columns that
// cost most to encode per row first, so that the workers finish a row
// group together instead of one encoding the last heavy column alone
// (longest processing time first): strings hashed row by row, then
// dictionaries and integers (dictionary-encoded: RLE indices), then
// the rest (PLAIN, mostly a copy and the codec).
func encodeOrder(schema *arrow.Schema) []int {
	cost := func(t arrow.DataType) int {
		switch {
		case arrow.IsBaseBinary(t.ID()):
			return 3
		case t.ID() == arrow.DICTIONARY, t.ID() == arrow.INT64, t.ID() == arrow.INT32:
			return 2
		case t.ID() == arrow.BOOL:
			return 0
		}
		return 1
	}
	order := make([]int, schema.NumFields())
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cost(schema.Field(b).Type) - cost(schema.Field(a).Type) })
	return order
}

// TotalCompressedBytes is the bytes written: every row group is complete
// when writeRowGroup returns, so nothing is held back. (file.Writer's own
// count adds the last closed row group twice.)
func (c *columnWriter) TotalCompressedBytes() int64 { return c.w.TotalBytesWritten() }
func (c *columnWriter) TotalBytesWritten() int64    { return c.w.TotalBytesWritten() }

// Close writes the footer and releases the workers' buffers.
func (c *columnWriter) Close() error {
	for i := range c.scratch {
		c.scratch[i].release()
	}
	return c.w.Close()
}

func (c *columnWriter) writeRowGroup(recs []arrow.RecordBatch, n int64) error {
	rgw, err := c.w.AppendBufferedRowGroupChecked()
	if err != nil {
		return err
	}
	ncols := len(c.schema.Fields())
	next := make(chan int, ncols)
	for _, i := range c.order {
		next <- i
	}
	close(next)
	errs := make([]error, ncols)
	var wg sync.WaitGroup
	for wk := range c.workers {
		wg.Go(func() {
			ctx := pqarrow.NewArrowWriteContext(context.Background(), &c.arrProps)
			for i := range next {
				errs[i] = c.writeColumn(ctx, wk, rgw, i, recs)
				if errs[i] == nil {
					errs[i] = flushPage(rgw, i)
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			_ = rgw.Close()
			return fmt.Errorf("column %s: %w", c.schema.Field(i).Name, err)
		}
	}
	if err := rgw.Close(); err != nil {
		return err
	}
	if got, err := rgw.NumRows(); err == nil && int64(got) != n {
		return fmt.Errorf("row group has %d rows, want %d", got, n)
	}
	return nil
}

// pageFlusher is the part of arrow-go's column chunk writers (the
// embedded columnWriter's method, not in file.ColumnChunkWriter) that
// flushPage uses.
type pageFlusher interface{ FlushCurrentPage() error }

// flushPage encodes and compresses the values column i has buffered into
// a data page, so that this happens on the worker that wrote them
// rather than in the row group's Close, which closes the column chunks
// one after the other. A dictionary-encoded chunk fed indices
// (writeDictColumn) never reaches the page size limit, so all its
// encoding would otherwise wait for Close. It does nothing when the
// chunk has no buffered values (a page was just flushed: an empty page
// must not be written) or when that cannot be told (statistics off).
func flushPage(rgw file.BufferedRowGroupWriter, i int) error {
	cw, err := rgw.Column(i)
	if err != nil {
		return err
	}
	ps := cw.PageStatistics()
	f, ok := cw.(pageFlusher)
	if !ok || ps == nil || ps.NumValues()+ps.NullCount() == 0 {
		return nil
	}
	return f.FlushCurrentPage()
}

// writeColumn encodes column i of recs into the row group's column chunk i.
func (c *columnWriter) writeColumn(ctx context.Context, worker int, rgw file.BufferedRowGroupWriter, i int, recs []arrow.RecordBatch) error {
	cw, err := rgw.Column(i)
	if err != nil {
		return err
	}
	field := c.schema.Field(i)
	chunks := make([]arrow.Array, len(recs))
	for k, r := range recs {
		chunks[k] = r.Column(i)
	}
	sc := &c.scratch[worker]
	if ok, err := writeDictColumn(cw, field, chunks, c.w.Properties().Allocator(), sc); ok || err != nil {
		return err
	}
	for _, arr := range chunks {
		if arr.Len() == 0 {
			continue
		}
		// A flat column has one definition level: 1 present, 0 null
		// (none when the field is required).
		var defs []int16
		if field.Nullable {
			defs = sc.levels(arr.Len())
			if arr.NullN() == 0 {
				for j := range defs {
					defs[j] = 1
				}
			} else {
				for j := range defs {
					if arr.IsValid(j) {
						defs[j] = 1
					} else {
						defs[j] = 0
					}
				}
			}
		}
		if err := pqarrow.WriteArrowToColumn(ctx, cw, arr, defs, nil, field.Nullable && arr.NullN() > 0); err != nil {
			return err
		}
	}
	return nil
}

// columnEncodings chooses each top-level leaf column's encoding by its
// type, instead of dictionary-encoding everything (arrow-go's default):
//
//   - Time columns (timestamp, date, time, duration) are event times:
//     mostly distinct, so a dictionary grows to its page limit (1 MiB,
//     128 Ki int64 values) and falls back to PLAIN after hashing every
//     value for nothing. They are written PLAIN; the codec takes the
//     repetition out. (DELTA_BINARY_PACKED would be smaller for sorted
//     times, but arrow-go v18.8.0's delta decoder leaks a buffer per
//     block on read, which checked allocators report.)
//   - Floating-point columns are mostly distinct too: PLAIN.
//   - Integers, strings, binaries and Arrow dictionaries keep dictionary
//     encoding (codes, airports, routes, delays: few distinct values),
//     decided per column chunk: int32, int64 and string-like chunks fall
//     back to PLAIN when their distinct values pass the 1 MiB dictionary
//     page limit or the dictionary would not be smaller than PLAIN
//     (writeDictColumn); other types by arrow-go's own rules.
func columnEncodings(schema *arrow.Schema) []pq.WriterProperty {
	var opts []pq.WriterProperty
	for _, f := range schema.Fields() {
		switch f.Type.ID() {
		case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64, arrow.TIME32, arrow.TIME64, arrow.DURATION,
			arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
			opts = append(opts, pq.WithDictionaryFor(f.Name, false))
		}
	}
	return opts
}
