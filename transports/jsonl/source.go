package jsonl

import (
	"bufio"
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	json "github.com/goccy/go-json"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/internal/fileopt"
	"github.com/pcs-dev/pcs/transports/internal/infile"
	"github.com/pcs-dev/pcs/transports/internal/textinfer"
)

// Source reads a file of newline-delimited JSON objects as record
// batches. It implements transports.Source.
//
// Read is called from one goroutine at a time; Schema may be called at
// any time.
type Source struct {
	path   string
	cfg    sourceConfig
	schema *arrow.Schema
	index  map[string]int // key -> column

	f    *os.File
	lr   lineReader
	bld  *array.RecordBuilder
	dec  []func(*json.Decoder) error // per column
	seen []bool                      // per column, for the current line
	text bytes.Buffer                // scratch for JSON text values

	state infile.State // sticky error, end, closed
}

var _ transports.Source = (*Source)(nil)

// NewSource opens the file at path and determines its schema: from
// WithSchema, or by inference over the first DefaultInferRows objects
// (WithInferRows); see the package doc for the rules. A UTF-8 byte order
// mark at the start of the file is skipped.
//
// Errors: the file cannot be opened or read (wrapped os error);
// ErrInvalidOption; ErrUnsupportedType (with WithSchema); a *ParseError
// (ErrSyntax) for a line among those read for the inference that is not
// one JSON object, or (ErrLineTooLong) is longer than WithMaxLineBytes.
func NewSource(path string, opts ...SourceOption) (*Source, error) {
	cfg := sourceConfig{
		SourceBase:     fileopt.NewSourceBase(DefaultBatchRows),
		TextSourceBase: fileopt.NewTextSourceBase(DefaultInferRows),
	}
	if err := fileopt.ApplySource(&cfg, opts); err != nil {
		return nil, err
	}
	f, err := infile.Open("jsonl", path)
	if err != nil {
		return nil, err
	}
	s := &Source{path: path, cfg: cfg, f: f, state: infile.NewState(path, "jsonl", ErrClosed)}
	if err := s.init(); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func (s *Source) init() error {
	if s.cfg.Schema != nil {
		if err := checkSupported(s.cfg.Schema); err != nil {
			return err
		}
		s.schema = s.cfg.Schema
	} else {
		if err := s.rewind(); err != nil {
			return err
		}
		if err := s.infer(); err != nil {
			return err
		}
	}
	if err := s.rewind(); err != nil {
		return err
	}
	s.index = make(map[string]int, s.schema.NumFields())
	for i := s.schema.NumFields() - 1; i >= 0; i-- { // the first of equal names wins
		s.index[s.schema.Field(i).Name] = i
	}
	s.seen = make([]bool, s.schema.NumFields())
	s.bld = array.NewRecordBuilder(s.cfg.Mem, s.schema)
	s.dec = make([]func(*json.Decoder) error, s.schema.NumFields())
	for i, f := range s.schema.Fields() {
		b := s.bld.Field(i)
		if isText(f.Type) {
			s.dec[i] = func(dec *json.Decoder) error { return s.decodeText(dec, b) }
		} else if textinfer.IsTemporal(f.Type) {
			p, err := textinfer.NewTimeParser(f.Type)
			if err != nil {
				return err
			}
			s.dec[i] = func(dec *json.Decoder) error { return decodeTemporal(dec, b, p) }
		} else {
			s.dec[i] = b.UnmarshalOne
		}
	}
	return nil
}

// rewind positions the line reader at the start of the file, after a
// byte order mark.
func (s *Source) rewind() error {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("jsonl: read %s: %w", s.path, err)
	}
	s.lr.reset(s.f, s.path, s.cfg.MaxLineBytes)
	if head, err := s.lr.br.Peek(len(infile.UTF8BOM)); err == nil && bytes.Equal(head, infile.UTF8BOM) {
		s.lr.br.Discard(len(infile.UTF8BOM))
	}
	return nil
}

// infer reads up to cfg.InferRows objects and sets schema.
func (s *Source) infer() error {
	var keys []*keyInfer
	byName := map[string]*keyInfer{}
	for rows := 0; s.cfg.InferRows < 0 || rows < s.cfg.InferRows; {
		line, err := s.lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, ErrLineTooLong) {
			return err
		}
		if err != nil {
			return fmt.Errorf("jsonl: read %s: %w", s.path, err)
		}
		if isBlank(line) {
			continue
		}
		rows++
		err = eachPair(line, func(key string, raw []byte) error {
			k := byName[key]
			if k == nil {
				k = &keyInfer{name: key}
				byName[key] = k
				keys = append(keys, k)
			}
			return k.add(raw)
		})
		if err != nil {
			return &ParseError{Format: "jsonl", Path: s.path, Line: s.lr.line, Row: -1, Column: -1, Kind: ErrSyntax, Err: err}
		}
	}
	fields := make([]arrow.Field, len(keys))
	for i, k := range keys {
		fields[i] = arrow.Field{Name: k.name, Type: k.result(), Nullable: true}
	}
	s.schema = arrow.NewSchema(fields, nil)
	return nil
}

// eachPair calls f with every key of the JSON object in line, in order,
// and the raw JSON text of its value.
func eachPair(line []byte, f func(key string, raw []byte) error) error {
	if err := validate(line); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := openObject(dec); err != nil {
		return err
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("object key is %v, not a string", tok)
		}
		if seen[key] {
			return fmt.Errorf("key %q appears twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if err := f(key, raw); err != nil {
			return err
		}
	}
	return closeObject(dec)
}

// validate returns encoding/json's syntax error for line, if any.
// goccy/go-json's Decoder.Token (which arrow-go's builders use) accepts
// some malformed input, such as a doubled comma between members.
func validate(line []byte) error {
	if stdjson.Valid(line) {
		return nil
	}
	var v any
	if err := stdjson.Unmarshal(line, &v); err != nil {
		return err
	}
	return errors.New("invalid JSON")
}

func openObject(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("the line holds %v, not a JSON object", tok)
	}
	return nil
}

func closeObject(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '}' {
		return fmt.Errorf("unexpected %v at the end of the object", tok)
	}
	// (goccy/go-json's InputOffset is short after strings with escapes:
	// ask for one more token instead.)
	if tok, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return fmt.Errorf("data after the object: %w", err)
		}
		return fmt.Errorf("data after the object: %v", tok)
	}
	return nil
}

func isBlank(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

// decodeText appends the next value to a utf8 or large_utf8 builder:
// a JSON string as its value, null as null, anything else as its
// compact JSON text.
func (s *Source) decodeText(dec *json.Decoder, b array.Builder) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	var v string
	switch raw[0] {
	case 'n':
		b.AppendNull()
		return nil
	case '"':
		var err error
		if v, err = unquote(raw); err != nil {
			return err
		}
	default:
		s.text.Reset()
		if err := stdjson.Compact(&s.text, raw); err != nil {
			return err
		}
		v = s.text.String()
	}
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append(v)
	case *array.LargeStringBuilder:
		b.Append(v)
	}
	return nil
}

// decodeTemporal appends the next value to a date32, date64 or
// timestamp builder: a JSON string as p parses it (the forms inference
// reads, see textinfer.TimeParser), an integer as the raw value, null as
// null.
func decodeTemporal(dec *json.Decoder, b array.Builder, p *textinfer.TimeParser) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	if raw[0] == 'n' {
		b.AppendNull()
		return nil
	}
	text := string(raw)
	if raw[0] == '"' {
		var err error
		if text, err = unquote(raw); err != nil {
			return err
		}
	}
	v, err := p.Parse(text)
	if err != nil {
		return err
	}
	switch b := b.(type) {
	case *array.Date32Builder:
		b.Append(arrow.Date32(v))
	case *array.Date64Builder:
		b.Append(arrow.Date64(v))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v))
	}
	return nil
}

// Schema returns the schema of every batch: the explicit one, or the
// inferred one (all columns nullable, in the order the keys first
// appear).
func (s *Source) Schema() *arrow.Schema { return s.schema }

// Read decodes the next objects (at most the batch rows, never zero) and
// returns them as a batch, which belongs to the caller, who releases it;
// it stays valid after later Reads and after Close. After the last
// object Read returns io.EOF, and keeps doing so. Blank lines are
// skipped; keys the schema does not have are ignored; missing keys are
// null.
//
// ctx is checked before each batch; decoding a batch is not interrupted.
//
// Errors: a *ParseError (ErrBadValue or ErrSyntax, with the line and the
// column; ErrLineTooLong, with the line); the rows before it in the same batch are not returned. A read
// error is repeated by every later Read. ctx's error (the source stays
// usable). ErrClosed after Close.
func (s *Source) Read(ctx context.Context) (arrow.RecordBatch, error) {
	if err := s.state.Begin(ctx); err != nil {
		return nil, err
	}
	n := 0
	for int64(n) < s.cfg.BatchRows {
		line, err := s.lr.next()
		if errors.Is(err, io.EOF) {
			s.state.SetEOF()
			break
		}
		if errors.Is(err, ErrLineTooLong) {
			return nil, s.state.Fail(err)
		}
		if err != nil {
			return nil, s.state.ReadError(err)
		}
		if isBlank(line) {
			continue
		}
		if err := s.decodeLine(line); err != nil {
			return nil, s.state.Fail(err)
		}
		n++
	}
	if n == 0 {
		return nil, io.EOF
	}
	if s.schema.NumFields() == 0 {
		return array.NewRecordBatch(s.schema, nil, int64(n)), nil
	}
	return s.bld.NewRecordBatch(), nil
}

// decodeLine appends the object in line to the builders.
func (s *Source) decodeLine(line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	syntax := func(err error) error {
		return &ParseError{Format: "jsonl", Path: s.path, Line: s.lr.line, Row: -1, Column: -1, Kind: ErrSyntax, Err: err}
	}
	if err := validate(line); err != nil {
		return syntax(err)
	}
	if err := openObject(dec); err != nil {
		return syntax(err)
	}
	clear(s.seen)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntax(err)
		}
		key, _ := tok.(string)
		i, ok := s.index[key]
		if !ok {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return syntax(err)
			}
			continue
		}
		if s.seen[i] {
			return syntax(fmt.Errorf("key %q appears twice", key))
		}
		s.seen[i] = true
		if err := s.dec[i](dec); err != nil {
			return s.valueError(line, i, err)
		}
	}
	if err := closeObject(dec); err != nil {
		return syntax(err)
	}
	for i, ok := range s.seen {
		if !ok {
			s.bld.Field(i).AppendNull()
		}
	}
	return nil
}

// valueError describes the failure err of decoding column i of line.
func (s *Source) valueError(line []byte, i int, err error) error {
	f := s.schema.Field(i)
	pe := &ParseError{Format: "jsonl", Path: s.path, Line: s.lr.line, Row: -1, Column: i, Name: f.Name, Type: f.Type, Kind: ErrBadValue, Err: err}
	// Find the value's text; if the line does not parse, the error was
	// one of JSON syntax inside the value.
	found := false
	perr := eachPair(line, func(key string, raw []byte) error {
		if key == f.Name && !found {
			found = true
			pe.Value = string(raw)
			if len(pe.Value) > 100 {
				pe.Value = pe.Value[:100] + "..."
			}
		}
		return nil
	})
	if perr != nil {
		pe.Kind, pe.Value = ErrSyntax, ""
	}
	return pe
}

// Close releases the builders and closes the file. Batches already
// returned stay valid. Close is idempotent.
func (s *Source) Close() error {
	return s.state.Close(func() error {
		s.bld.Release()
		return s.f.Close()
	})
}

// lineReader yields the lines of a file, without their end ("\n" or
// "\r\n"), up to max bytes long.
type lineReader struct {
	br   *bufio.Reader
	path string
	max  int64
	long []byte
	line int // number of the line last returned (1-based)
}

func (l *lineReader) reset(r io.Reader, path string, max int64) {
	if l.br == nil {
		l.br = bufio.NewReaderSize(r, infile.BufferSize)
	} else {
		l.br.Reset(r)
	}
	l.path, l.max, l.line = path, max, 0
}

// next returns the next line, valid until the following call, or io.EOF.
// A line longer than max is a *ParseError (ErrLineTooLong), met after
// reading at most max bytes of it (and a buffer) into memory.
func (l *lineReader) next() ([]byte, error) {
	b, err := l.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		l.long = append(l.long[:0], b...)
		for errors.Is(err, bufio.ErrBufferFull) && !l.tooLong(l.long) {
			b, err = l.br.ReadSlice('\n')
			l.long = append(l.long, b...)
		}
		b = l.long
	}
	if errors.Is(err, io.EOF) && len(b) > 0 {
		err = nil
	}
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	if l.tooLong(b) {
		l.long = nil // let the memory go
		return nil, &ParseError{Format: "jsonl", Path: l.path, Line: l.line + 1, Row: -1, Column: -1, Kind: ErrLineTooLong,
			Err: fmt.Errorf("longer than %d bytes (the limit: jsonl.WithMaxLineBytes, --max-line-bytes)", l.max)}
	}
	l.line++
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return b, nil
}

// tooLong reports whether b, a line read so far (with its line break if
// read), is longer than max.
func (l *lineReader) tooLong(b []byte) bool {
	n := int64(len(b))
	if n > 0 && b[n-1] == '\n' {
		n--
		if n > 0 && b[n-1] == '\r' {
			n--
		}
	}
	return n > l.max
}
