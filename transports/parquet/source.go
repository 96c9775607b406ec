package parquet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/internal/fileopt"
	"github.com/pcs-dev/pcs/transports/internal/infile"
)

// fieldIDKey is the field metadata key pqarrow uses for Parquet field ids.
const fieldIDKey = "PARQUET:field_id"

// Source reads one Parquet file. It implements transports.Source.
//
// Read is called from one goroutine at a time; Schema, NumRows and
// NumRowGroups may be called at any time.
type Source struct {
	path       string
	pf         *file.Reader
	rr         pqarrow.RecordReader   // nil when no row group is selected
	schema     *arrow.Schema          // fileSchema and the hive columns
	fileSchema *arrow.Schema          // of the file's columns, as returned
	rewrap     bool                   // batches get fileSchema (field-id metadata dropped, types restored)
	hive       []hiveValue            // partition columns from the path (WithHivePartitioning)
	restore    map[int]arrow.DataType // column -> written type to cast back to
	dictRead   map[int]arrow.DataType // column read as a dictionary -> its type, to materialize
	mem        memory.Allocator
	numRows    int64
	numGroups  int
	state      infile.State // sticky error, end, closed
}

var _ transports.Source = (*Source)(nil)

// NewSource opens the Parquet file at path and prepares to read the
// selected columns and row groups. It reads the footer (metadata) only.
//
// Errors: the file cannot be opened or is not Parquet (wrapped os or
// arrow-go error, with the path); ErrUnknownColumn; ErrInvalidOption.
func NewSource(path string, opts ...SourceOption) (*Source, error) {
	cfg := sourceConfig{SourceBase: fileopt.NewSourceBase(DefaultBatchRows)}
	if err := fileopt.ApplySource(&cfg, opts); err != nil {
		return nil, err
	}

	pf, err := file.OpenParquetFile(path, false, file.WithReadProps(pq.NewReaderProperties(cfg.Mem)))
	if err != nil {
		return nil, fmt.Errorf("parquet: open %s: %w", path, err)
	}
	s := &Source{path: path, pf: pf, numGroups: pf.NumRowGroups(), mem: cfg.Mem, state: infile.NewState(path, "parquet", ErrClosed)}
	if err := s.init(&cfg); err != nil {
		if s.rr != nil {
			s.rr.Release()
		}
		_ = pf.Close()
		return nil, err
	}
	return s, nil
}

func (s *Source) init(cfg *sourceConfig) error {
	fr, err := pqarrow.NewFileReader(s.pf, pqarrow.ArrowReadProperties{
		Parallel:  cfg.parallel,
		BatchSize: cfg.BatchRows,
	}, cfg.Mem)
	if err != nil {
		return fmt.Errorf("parquet: %s: %w", s.path, err)
	}

	fieldIdx, err := fieldIndices(fr.Manifest, cfg.columns, s.path)
	if err != nil {
		return err
	}
	var cols []int // leaf columns; nil: all
	if cfg.columns != nil {
		for _, i := range fieldIdx {
			cols = appendLeaves(cols, &fr.Manifest.Fields[i])
		}
	}

	rowGroups := cfg.rowGroups
	if rowGroups == nil {
		rowGroups = make([]int, s.numGroups)
		for i := range rowGroups {
			rowGroups[i] = i
		}
	}
	for _, rg := range rowGroups {
		if rg < 0 || rg >= s.numGroups {
			return fmt.Errorf("%w: row group %d out of range: %s has %d row groups", ErrInvalidOption, rg, s.path, s.numGroups)
		}
		s.numRows += s.pf.MetaData().RowGroup(rg).NumRows()
	}

	var sc *arrow.Schema
	if len(rowGroups) == 0 || s.numRows == 0 {
		// Nothing to read. Derive the projected schema without a reader:
		// pqarrow's record reader is not meant for zero rows.
		full, err := fr.Schema()
		if err != nil {
			return fmt.Errorf("parquet: %s: %w", s.path, err)
		}
		sc = projectSchema(full, fieldIdx)
		s.state.SetEOF()
	} else {
		s.dictRead = dictionaryReads(fr, s.pf, fieldIdx, rowGroups)
		rr, err := fr.GetRecordReader(context.Background(), cols, rowGroups)
		if err != nil {
			return fmt.Errorf("parquet: %s: %w", s.path, err)
		}
		s.rr = rr
		sc = rr.Schema()
		if len(s.dictRead) > 0 {
			fields := sc.Fields()
			for k, dt := range s.dictRead {
				fields[k].Type = dt
			}
			md := sc.Metadata()
			sc = arrow.NewSchema(fields, &md)
		}
	}
	sc, s.restore = restoreTypes(sc, fr.Manifest.OriginSchema, fieldIdx)
	var dropped bool
	s.fileSchema, dropped = dropUnsetFieldIDs(sc)
	s.rewrap = dropped || len(s.restore) > 0 || len(s.dictRead) > 0
	s.schema = s.fileSchema
	if cfg.hive {
		return s.initHive()
	}
	return nil
}

// fieldIndices maps top-level column names to their indices in the
// file's schema, in the order of names; nil names means all columns.
func fieldIndices(m *pqarrow.SchemaManifest, names []string, path string) ([]int, error) {
	if names == nil {
		out := make([]int, len(m.Fields))
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	var out []int
	for _, name := range names {
		i := -1
		for j := range m.Fields {
			if m.Fields[j].Field.Name == name {
				i = j
				break
			}
		}
		if i < 0 {
			have := make([]string, len(m.Fields))
			for j := range m.Fields {
				have[j] = m.Fields[j].Field.Name
			}
			return nil, fmt.Errorf("%w %q in %s (columns: %s)", ErrUnknownColumn, name, path, strings.Join(have, ", "))
		}
		out = append(out, i)
	}
	return out, nil
}

func appendLeaves(dst []int, f *pqarrow.SchemaField) []int {
	if f.IsLeaf() {
		return append(dst, f.ColIndex)
	}
	for i := range f.Children {
		dst = appendLeaves(dst, &f.Children[i])
	}
	return dst
}

// projectSchema returns the fields of full with the given indices.
func projectSchema(full *arrow.Schema, fieldIdx []int) *arrow.Schema {
	fields := make([]arrow.Field, len(fieldIdx))
	for k, i := range fieldIdx {
		fields[k] = full.Field(i)
	}
	md := full.Metadata()
	return arrow.NewSchema(fields, &md)
}

// restoreTypes finds top-level columns whose type Parquet coerced on
// write and pqarrow does not restore from the stored Arrow schema
// (origin): timestamp[s] reads as timestamp[ms] (and loses its time
// zone), time32[s] as time32[ms], date64 as date32. It returns sc with
// the written types and the columns to cast. fieldIdx maps the columns
// of sc to fields of origin.
func restoreTypes(sc, origin *arrow.Schema, fieldIdx []int) (*arrow.Schema, map[int]arrow.DataType) {
	if origin == nil || origin.NumFields() <= slices.Max(append([]int{-1}, fieldIdx...)) {
		return sc, nil
	}
	var casts map[int]arrow.DataType
	fields := sc.Fields()
	for k, i := range fieldIdx {
		want, got := origin.Field(i).Type, fields[k].Type
		if arrow.TypeEqual(want, got) {
			continue
		}
		switch {
		case want.ID() == arrow.TIMESTAMP && got.ID() == arrow.TIMESTAMP && want.(*arrow.TimestampType).Unit == arrow.Second,
			want.ID() == arrow.TIME32 && got.ID() == arrow.TIME32,
			want.ID() == arrow.DATE64 && got.ID() == arrow.DATE32:
		default:
			continue
		}
		if casts == nil {
			casts = map[int]arrow.DataType{}
		}
		casts[k] = want
		fields[k].Type = want
	}
	if casts == nil {
		return sc, nil
	}
	md := sc.Metadata()
	return arrow.NewSchema(fields, &md), casts
}

// dropUnsetFieldIDs removes "PARQUET:field_id" = "-1" from top-level
// fields. It reports whether anything changed.
func dropUnsetFieldIDs(sc *arrow.Schema) (*arrow.Schema, bool) {
	changed := false
	fields := sc.Fields()
	for i, f := range fields {
		idx := f.Metadata.FindKey(fieldIDKey)
		if idx < 0 || f.Metadata.Values()[idx] != "-1" {
			continue
		}
		var keys, vals []string
		for j, k := range f.Metadata.Keys() {
			if j != idx {
				keys = append(keys, k)
				vals = append(vals, f.Metadata.Values()[j])
			}
		}
		if len(keys) == 0 {
			fields[i].Metadata = arrow.Metadata{}
		} else {
			fields[i].Metadata = arrow.NewMetadata(keys, vals)
		}
		changed = true
	}
	if !changed {
		return sc, false
	}
	md := sc.Metadata()
	return arrow.NewSchema(fields, &md), true
}

// Schema returns the Arrow schema of every batch, after projection:
// the selected columns in the order asked for, then the partition
// columns of WithHivePartitioning. It is known from the file's footer
// before the first Read.
func (s *Source) Schema() *arrow.Schema { return s.schema }

// NumRows returns the number of rows the source yields in total: the
// rows of the selected row groups (the whole file by default), from the
// footer.
func (s *Source) NumRows() int64 { return s.numRows }

// NumRowGroups returns the number of row groups in the file, selected or
// not.
func (s *Source) NumRowGroups() int { return s.numGroups }

// Read decodes and returns the next batch: at most the configured batch
// rows, never zero rows. The batch belongs to the caller, who releases
// it; it stays valid after later Reads and after Close. After the last
// batch Read returns io.EOF, and keeps doing so.
//
// ctx is checked before decoding; a decode that has started runs to the
// end of the batch. A decode error is returned wrapped with the path and
// repeated by every later Read. Read after Close returns ErrClosed.
func (s *Source) Read(ctx context.Context) (arrow.RecordBatch, error) {
	if err := s.state.Begin(ctx); err != nil {
		return nil, err
	}
	rec, err := s.rr.Read()
	if errors.Is(err, io.EOF) || (err == nil && rec == nil) {
		return nil, s.state.EOF()
	}
	if err != nil {
		return nil, s.state.ReadError(err)
	}
	// The record reader releases rec on its next Read: hand out a batch
	// of our own that holds its own references to the columns.
	if s.rewrap {
		rec, err = s.convert(ctx, rec)
		if err != nil {
			return nil, err
		}
	} else {
		rec.Retain()
	}
	if len(s.hive) > 0 {
		return s.addHive(rec), nil
	}
	return rec, nil
}

// convert returns rec with s.fileSchema: the columns in s.dictRead
// materialized, those in s.restore cast.
func (s *Source) convert(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	cols := rec.Columns()
	if len(s.dictRead) > 0 || len(s.restore) > 0 {
		cols = slices.Clone(cols)
		var owned []arrow.Array
		defer func() {
			for _, a := range owned {
				a.Release()
			}
		}()
		for k, dt := range s.dictRead {
			out, err := materialize(cols[k], dt, s.mem)
			if err != nil {
				return nil, s.state.ReadError(fmt.Errorf("column %q: %w", s.schema.Field(k).Name, err))
			}
			cols[k] = out
			owned = append(owned, out)
		}
		cctx := compute.WithAllocator(ctx, s.mem)
		for k, dt := range s.restore {
			out, err := compute.CastArray(cctx, cols[k], compute.SafeCastOptions(dt))
			if err != nil {
				return nil, s.state.ReadError(fmt.Errorf("restore column %q as %s: %w", s.schema.Field(k).Name, dt, err))
			}
			cols[k] = out
			owned = append(owned, out)
		}
	}
	return array.NewRecordBatch(s.fileSchema, cols, rec.NumRows()), nil
}

// Close releases the decoders and closes the file. Batches already
// returned stay valid. Close is idempotent.
func (s *Source) Close() error {
	return s.state.Close(func() error {
		if s.rr != nil {
			s.rr.Release()
			s.rr = nil
		}
		return s.pf.Close()
	})
}
