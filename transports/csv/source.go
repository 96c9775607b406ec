package csv

import (
	"bufio"
	"bytes"
	"context"
	stdcsv "encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/internal/fileopt"
	"github.com/pcs-dev/pcs/transports/internal/infile"
	"github.com/pcs-dev/pcs/transports/internal/textinfer"
)

// Source reads a CSV file as record batches. It implements
// transports.Source.
//
// Read is called from one goroutine at a time; Schema may be called at
// any time.
type Source struct {
	path   string
	cfg    sourceConfig
	schema *arrow.Schema // what Read returns
	// readSchema is what arrow-go's reader builds: schema, with the
	// columns of conv[i] != nil as utf8 (converted by Read).
	readSchema *arrow.Schema
	// conv: per column, the parser of a declared date or timestamp
	// column or of one inferred from a textinfer.Layouts layout; nil
	// where arrow-go parses the column itself.
	conv    []*textinfer.TimeParser
	convert bool // some conv[i] != nil
	nulls   []string

	f         *os.File
	dataStart int64 // offset of the first record (after a BOM)
	bodyStart int64 // offset of the first data record (after the header)
	r         *arrowcsv.Reader
	lim       *recordLimit    // under r
	rows      int64           // data rows returned so far
	par       *parallelReader // with WithParallel, from the first Read
	state     infile.State    // sticky error, end, closed
}

var _ transports.Source = (*Source)(nil)

// NewSource opens the CSV file at path and determines its schema: from
// WithSchema, or by inference over the first DefaultInferRows data rows
// (WithInferRows); see the package doc for the rules. A UTF-8 byte order
// mark at the start of the file is skipped.
//
// Errors: the file cannot be opened or read (wrapped os error);
// ErrInvalidOption; ErrUnsupportedType and ErrHeader (with WithSchema);
// a *ParseError (ErrSyntax, ErrFieldCount, ErrLineTooLong) for a bad
// record among those read for the header and the inference.
func NewSource(path string, opts ...SourceOption) (*Source, error) {
	cfg := defaultSourceConfig()
	if err := fileopt.ApplySource(&cfg, opts); err != nil {
		return nil, err
	}
	f, err := infile.Open("csv", path)
	if err != nil {
		return nil, err
	}
	s := &Source{path: path, cfg: cfg, f: f, nulls: append([]string{""}, cfg.nulls...), state: infile.NewState(path, "csv", ErrClosed)}
	if err := s.init(); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// recordReader returns an encoding/csv reader of the file from the first
// record on, configured as arrow-go's reader is.
func (s *Source) recordReader(f *os.File) (*stdcsv.Reader, error) {
	if _, err := f.Seek(s.dataStart, io.SeekStart); err != nil {
		return nil, fmt.Errorf("csv: read %s: %w", s.path, err)
	}
	cr := stdcsv.NewReader(bufio.NewReaderSize(s.newRecordLimit(f, 1), infile.BufferSize))
	cr.Comma = s.cfg.comma
	cr.LazyQuotes = s.cfg.lazyQuotes
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return cr, nil
}

func (s *Source) init() error {
	head := make([]byte, len(infile.UTF8BOM))
	n, err := io.ReadFull(s.f, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("csv: read %s: %w", s.path, err)
	}
	if bytes.Equal(head[:n], infile.UTF8BOM) {
		s.dataStart = int64(n)
	}
	cr, err := s.recordReader(s.f)
	if err != nil {
		return err
	}

	var header []string
	if s.cfg.header {
		rec, err := cr.Read()
		switch {
		case errors.Is(err, io.EOF):
		case err != nil:
			return s.syntaxError(err)
		default:
			header = slices.Clone(rec)
		}
	}
	s.bodyStart = s.dataStart + cr.InputOffset()

	if s.cfg.Schema != nil {
		if err := checkSupported(s.cfg.Schema); err != nil {
			return err
		}
		if s.cfg.header && header != nil {
			if err := s.checkHeader(header); err != nil {
				return err
			}
		}
		s.schema = s.cfg.Schema
		s.conv = make([]*textinfer.TimeParser, s.schema.NumFields())
		for i, f := range s.schema.Fields() {
			s.conv[i] = declaredParser(f.Type)
		}
	} else if err := s.infer(cr, header); err != nil {
		return err
	}

	fields := s.schema.Fields()
	for i, p := range s.conv {
		if p != nil {
			fields[i].Type = arrow.BinaryTypes.String
			s.convert = true
		}
	}
	s.readSchema = s.schema
	if s.convert {
		md := s.schema.Metadata()
		s.readSchema = arrow.NewSchema(fields, &md)
	}

	bodyLine, err := s.lineAt(s.bodyStart)
	if err != nil {
		return err
	}
	if _, err := s.f.Seek(s.bodyStart, io.SeekStart); err != nil {
		return fmt.Errorf("csv: read %s: %w", s.path, err)
	}
	s.lim = s.newRecordLimit(s.f, bodyLine)
	s.r = arrowcsv.NewReader(bufio.NewReaderSize(s.lim, infile.BufferSize), s.readSchema,
		arrowcsv.WithHeader(false),
		arrowcsv.WithChunk(int(s.cfg.BatchRows)),
		arrowcsv.WithComma(s.cfg.comma),
		arrowcsv.WithLazyQuotes(s.cfg.lazyQuotes),
		arrowcsv.WithNullReader(true, s.nulls...),
		arrowcsv.WithAllocator(s.cfg.Mem),
	)
	return nil
}

// lineAt returns the line of the file at offset off, the start of a
// record.
func (s *Source) lineAt(off int64) (int, error) {
	line := 1
	buf := make([]byte, 64<<10)
	r := io.NewSectionReader(s.f, s.dataStart, off-s.dataStart)
	for {
		n, err := r.Read(buf)
		line += bytes.Count(buf[:n], []byte{'\n'})
		if errors.Is(err, io.EOF) {
			return line, nil
		}
		if err != nil {
			return 0, fmt.Errorf("csv: read %s: %w", s.path, err)
		}
	}
}

func (s *Source) checkHeader(header []string) error {
	want := s.cfg.Schema.Fields()
	if len(header) != len(want) {
		return fmt.Errorf("%w: %s has %d columns (%q), the schema %d", ErrHeader, s.path, len(header), header, len(want))
	}
	for i, h := range header {
		if h != want[i].Name {
			return fmt.Errorf("%w: %s: column %d is %q in the header, %q in the schema", ErrHeader, s.path, i, h, want[i].Name)
		}
	}
	return nil
}

// declaredParser returns the parser of a column declared as dt (so that
// it reads what inference reads: textinfer.TimeParser), or nil when
// arrow-go parses dt itself.
func declaredParser(dt arrow.DataType) *textinfer.TimeParser {
	if !textinfer.IsTemporal(dt) {
		return nil
	}
	p, err := textinfer.NewTimeParser(dt)
	if err != nil { // checked by supported
		return nil
	}
	return p
}

// infer reads up to cfg.InferRows data records with cr and sets schema
// and conv.
func (s *Source) infer(cr *stdcsv.Reader, header []string) error {
	var cols []*colInfer
	ncols := -1
	if header != nil {
		ncols = len(header)
	}
	for row := 0; s.cfg.InferRows < 0 || row < s.cfg.InferRows; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s.syntaxError(err)
		}
		if ncols < 0 {
			ncols = len(rec)
		}
		if len(rec) != ncols {
			line, _ := cr.FieldPos(0)
			return &ParseError{Format: "csv", Path: s.path, Line: line, Row: int64(row), Column: -1, Kind: ErrFieldCount,
				Err: fmt.Errorf("%d fields, want %d", len(rec), ncols)}
		}
		if cols == nil {
			cols = make([]*colInfer, ncols)
			for i := range cols {
				cols[i] = newColInfer()
			}
		}
		for i, v := range rec {
			if !slices.Contains(s.nulls, v) {
				cols[i].add(v)
			}
		}
	}
	if ncols < 0 {
		ncols = 0 // empty file
	}
	fields := make([]arrow.Field, ncols)
	s.conv = make([]*textinfer.TimeParser, ncols)
	for i := range fields {
		name := fmt.Sprintf("f%d", i)
		if header != nil {
			name = headerName(header[i], i)
		}
		c := newColInfer()
		if cols != nil {
			c = cols[i]
		}
		fields[i] = arrow.Field{Name: name, Nullable: true}
		var lay int
		fields[i].Type, lay = c.result()
		if lay >= 0 {
			p, err := textinfer.NewTimeParser(fields[i].Type)
			if err != nil {
				return err
			}
			s.conv[i] = p.WithHint(lay)
		}
	}
	for name, dt := range s.cfg.types {
		i := slices.IndexFunc(fields, func(f arrow.Field) bool { return f.Name == name })
		if i < 0 {
			return fmt.Errorf("%w: WithColumnTypes names column %q, which %s does not have", ErrInvalidOption, name, s.path)
		}
		if !supported(dt) {
			return fmt.Errorf("%w: column %q (index %d) has type %s", ErrUnsupportedType, name, i, dt)
		}
		fields[i].Type, s.conv[i] = dt, declaredParser(dt)
	}
	s.schema = arrow.NewSchema(fields, nil)
	return nil
}

// syntaxError turns an encoding/csv error into a *ParseError.
func (s *Source) syntaxError(err error) error {
	if errors.Is(err, ErrLineTooLong) { // a *ParseError already
		return err
	}
	var pe *stdcsv.ParseError
	if errors.As(err, &pe) {
		kind := ErrSyntax
		if errors.Is(pe.Err, stdcsv.ErrFieldCount) {
			kind = ErrFieldCount
		}
		return &ParseError{Format: "csv", Path: s.path, Line: pe.Line, Row: -1, Column: -1, Kind: kind, Err: pe}
	}
	return fmt.Errorf("csv: read %s: %w", s.path, err)
}

// Schema returns the schema of every batch: the explicit one, or the
// inferred one. Inferred columns are all nullable.
func (s *Source) Schema() *arrow.Schema { return s.schema }

// Read parses the next rows (at most the batch rows, never zero) and
// returns them as a batch, which belongs to the caller, who releases it;
// it stays valid after later Reads and after Close. After the last row
// Read returns io.EOF, and keeps doing so.
//
// ctx is checked before each batch; parsing a batch is not interrupted.
// With WithParallel, batches are parsed ahead on other goroutines and
// Read waits for the next one until ctx is done.
//
// Errors: a *ParseError for a bad cell (ErrBadValue, with the line, the
// column and the value), a record with the wrong number of fields
// (ErrFieldCount), bad CSV (ErrSyntax) or a record longer than
// WithMaxLineBytes (ErrLineTooLong); the rows before it in the same
// batch are not returned. A read error is repeated by every later Read.
// ctx's error (the source stays usable). ErrClosed after Close.
func (s *Source) Read(ctx context.Context) (arrow.RecordBatch, error) {
	if err := s.state.Begin(ctx); err != nil {
		return nil, err
	}
	if s.cfg.parallel > 1 && !s.cfg.lazyQuotes {
		return s.readParallel(ctx)
	}
	ok, perr := next(s.r)
	if perr == nil {
		perr = s.r.Err()
	}
	if s.lim.err != nil {
		return nil, s.state.Fail(s.lim.err)
	}
	if perr != nil {
		return nil, s.state.Fail(s.locate(s.rows, perr))
	}
	if !ok {
		return nil, s.state.EOF()
	}
	// The reader releases its batch on the next Next: hand out one of
	// our own that holds its own references to the columns.
	rec := s.r.RecordBatch()
	if !s.convert {
		rec.Retain()
		s.rows += rec.NumRows()
		return rec, nil
	}
	out, err := s.convertBatch(rec, s.conv)
	if err != nil {
		return nil, s.state.Fail(s.locate(s.rows, err))
	}
	s.rows += out.NumRows()
	return out, nil
}

// next calls r.Next, turning a panic of arrow-go's reader into an error.
func next(r *arrowcsv.Reader) (ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			ok, err = false, fmt.Errorf("arrow/csv panicked: %v", p)
		}
	}()
	return r.Next(), nil
}

// convertBatch replaces the text of the columns with a parser in conv
// (s.conv, or a goroutine's copy) by their dates or timestamps.
func (s *Source) convertBatch(rec arrow.RecordBatch, conv []*textinfer.TimeParser) (arrow.RecordBatch, error) {
	cols := slices.Clone(rec.Columns())
	var made []arrow.Array
	defer func() {
		for _, a := range made {
			a.Release()
		}
	}()
	for i, p := range conv {
		if p == nil {
			continue
		}
		a, err := convertColumn(s.cfg.Mem, cols[i].(*array.String), p, s.schema.Field(i).Type)
		if err != nil {
			return nil, err
		}
		made = append(made, a)
		cols[i] = a
	}
	return array.NewRecordBatch(s.schema, cols, rec.NumRows()), nil
}

func convertColumn(mem memory.Allocator, col *array.String, p *textinfer.TimeParser, dt arrow.DataType) (arrow.Array, error) {
	b := array.NewBuilder(mem, dt)
	defer b.Release()
	b.Reserve(col.Len())
	for i := 0; i < col.Len(); i++ {
		if col.IsNull(i) {
			b.AppendNull()
			continue
		}
		v, err := p.Parse(col.Value(i))
		if err != nil {
			return nil, err
		}
		switch b := b.(type) {
		case *array.Date32Builder:
			b.Append(arrow.Date32(v))
		case *array.Date64Builder:
			b.Append(arrow.Date64(v))
		case *array.TimestampBuilder:
			b.Append(arrow.Timestamp(v))
		}
	}
	return b.NewArray(), nil
}

// locate finds the first bad record or cell at or after data row from
// (the first row of the batch that failed) by reading the file again
// with encoding/csv, and returns a *ParseError with its line. cause is
// the error the read met; it is returned (wrapped, with the rows of the
// batch) when no bad cell is found.
func (s *Source) locate(from int64, cause error) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("csv: read %s: data rows from %d: %w", s.path, from, cause)
	}
	defer f.Close()
	cr, err := s.recordReader(f)
	if err != nil {
		return fmt.Errorf("csv: read %s: data rows from %d: %w", s.path, from, cause)
	}
	if s.cfg.header {
		if _, err := cr.Read(); err != nil {
			return s.syntaxError(err)
		}
	}
	fields := s.schema.Fields()
	firstLine := 0
	for row := int64(0); row < from+s.cfg.BatchRows; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			pe := s.syntaxError(err)
			if p, ok := pe.(*ParseError); ok {
				p.Row = row
			}
			return pe
		}
		if row < from {
			continue
		}
		line, _ := cr.FieldPos(0)
		if row == from {
			firstLine = line
		}
		if len(rec) != len(fields) {
			return &ParseError{Format: "csv", Path: s.path, Line: line, Row: row, Column: -1, Kind: ErrFieldCount,
				Err: fmt.Errorf("%d fields, want %d", len(rec), len(fields))}
		}
		for i, v := range rec {
			if slices.Contains(s.nulls, v) {
				continue
			}
			if err := checkCell(fields[i].Type, s.conv[i], v); err != nil {
				line, _ := cr.FieldPos(i)
				return &ParseError{Format: "csv", Path: s.path, Line: line, Row: row, Column: i, Name: fields[i].Name,
					Type: fields[i].Type, Value: v, Kind: ErrBadValue, Err: err}
			}
		}
	}
	return fmt.Errorf("csv: read %s: data rows %d to %d (from line %d): %w", s.path, from, from+s.cfg.BatchRows-1, firstLine, cause)
}

// Close closes the file. Batches already returned stay valid. Close is
// idempotent.
func (s *Source) Close() error {
	return s.state.Close(func() error {
		if s.par != nil {
			s.par.stop()
		}
		s.r.Release()
		return s.f.Close()
	})
}
