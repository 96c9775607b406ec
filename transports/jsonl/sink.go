package jsonl

import (
	"context"
	"encoding/base64"
	stdjson "encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/internal/fileopt"
	"github.com/pcs-dev/pcs/transports/internal/outfile"
	"github.com/pcs-dev/pcs/transports/internal/plain"
)

// Sink writes batches of one schema to a file as newline-delimited JSON:
// one object per row, keys in schema order. It implements
// transports.Sink.
//
// Write, Flush and Close are called from one goroutine at a time.
type Sink struct {
	path   string
	schema *arrow.Schema
	plain  *arrow.Schema // schema with dictionaries decoded: what the file holds
	mem    memory.Allocator
	keys   [][]byte      // `"name":` per column; the first with '{', the others with ','
	state  outfile.State // file, sticky failure, closed flag
	buf    []byte
}

var _ transports.Sink = (*Sink)(nil)

// NewSink creates the file at path (replacing an existing one; with
// WithAtomicRename a temporary file, renamed to path by Close) for
// batches of schema. A sink that receives no rows leaves an empty file.
//
// Values are written so that a Source given the same schema reads them
// back equal: see the package doc. Dictionary-encoded columns are written
// as their values.
//
// Errors: ErrInvalidOption; ErrUnsupportedType; the file cannot be
// created (wrapped os error).
func NewSink(path string, schema *arrow.Schema, opts ...SinkOption) (*Sink, error) {
	if schema == nil {
		return nil, fmt.Errorf("%w: nil schema", ErrInvalidOption)
	}
	cfg := sinkConfig{SinkBase: fileopt.NewSinkBase()}
	if err := fileopt.ApplySink(&cfg, opts); err != nil {
		return nil, err
	}
	if err := checkSupported(plain.Schema(schema)); err != nil {
		return nil, err
	}
	state, err := outfile.CreateState(path, cfg.Atomic, schema, "jsonl", ErrClosed)
	if err != nil {
		return nil, err
	}
	s := &Sink{path: path, schema: schema, plain: plain.Schema(schema), mem: cfg.Mem, state: state}
	for i, fd := range schema.Fields() {
		sep := byte(',')
		if i == 0 {
			sep = '{'
		}
		k := appendString([]byte{sep}, fd.Name)
		s.keys = append(s.keys, append(k, ':'))
	}
	return s, nil
}

// Write encodes rec's rows into the file's buffer, one line each. It
// keeps no reference to rec. A batch with zero rows is checked and
// otherwise ignored.
//
// Errors: transports.ErrSchemaMismatch (wrapped, showing both schemas)
// when rec's schema differs from the sink's (arrow.Schema.Equal); ctx's
// error when ctx is done before the call (nothing is written then); an
// encoding or I/O error, after which the sink is failed and every later
// call returns that error; ErrClosed after Close. A schema mismatch or a
// ctx error leaves the sink usable.
func (s *Sink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	rec, err := s.state.BeginPlain(ctx, rec, s.plain, s.mem)
	if rec == nil {
		return err
	}
	defer rec.Release()
	encs := make([]encoder, rec.NumCols())
	for j, col := range rec.Columns() {
		encs[j] = encoderFor(col)
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		b := s.buf[:0]
		if len(encs) == 0 {
			b = append(b, '{')
		}
		for j, enc := range encs {
			b = append(b, s.keys[j]...)
			if rec.Column(j).IsNull(i) {
				b = append(b, "null"...)
				continue
			}
			var err error
			if b, err = enc(b, i); err != nil {
				return s.state.Fail(fmt.Errorf("column %q: %w", s.schema.Field(j).Name, err))
			}
		}
		b = append(b, '}', '\n')
		s.buf = b
		if _, err := s.state.File().Writer().Write(b); err != nil {
			return s.state.Fail(err)
		}
	}
	return nil
}

// Flush writes the buffered bytes to the file and fsyncs it: the rows
// written so far are then durable and readable.
func (s *Sink) Flush(ctx context.Context) error { return s.state.Flush(ctx) }

// Close flushes, fsyncs and closes the file, and with WithAtomicRename
// renames it to its final name. The file is complete only after Close
// returned nil.
//
// If the sink had failed, or ctx is done, Close abandons the file: it is
// closed and removed, and Close returns the failure or ctx's error.
// Close is idempotent: later calls return nil.
func (s *Sink) Close(ctx context.Context) error { return s.state.Close(ctx, nil) }

// encoder appends the JSON of the non-null value at row i.
type encoder func(b []byte, i int) ([]byte, error)

func encoderFor(col arrow.Array) encoder {
	switch a := col.(type) {
	case *array.Boolean:
		return func(b []byte, i int) ([]byte, error) { return strconv.AppendBool(b, a.Value(i)), nil }
	case *array.Int8:
		return func(b []byte, i int) ([]byte, error) { return strconv.AppendInt(b, int64(a.Value(i)), 10), nil }
	case *array.Int16:
		return func(b []byte, i int) ([]byte, error) { return strconv.AppendInt(b, int64(a.Value(i)), 10), nil }
	case *array.Int32:
		return func(b []byte, i int) ([]byte, error) { return strconv.AppendInt(b, int64(a.Value(i)), 10), nil }
	case *array.Int64:
		return func(b []byte, i int) ([]byte, error) { return strconv.AppendInt(b, a.Value(i), 10), nil }
	case *array.Uint8:
		return func(b []byte, i int) ([]byte, error) { return strconv.AppendUint(b, uint64(a.Value(i)), 10), nil }
	case *array.Uint16:
		return func(b []byte, i int) ([]byte, error) { return strconv.AppendUint(b, uint64(a.Value(i)), 10), nil }
	case *array.Uint32:
		return func(b []byte, i int) ([]byte, error) { return strconv.AppendUint(b, uint64(a.Value(i)), 10), nil }
	case *array.Uint64:
		return func(b []byte, i int) ([]byte, error) { return strconv.AppendUint(b, a.Value(i), 10), nil }
	case *array.Float32:
		return func(b []byte, i int) ([]byte, error) { return appendFloat(b, float64(a.Value(i)), 32), nil }
	case *array.Float64:
		return func(b []byte, i int) ([]byte, error) { return appendFloat(b, a.Value(i), 64), nil }
	case *array.String:
		return func(b []byte, i int) ([]byte, error) { return appendString(b, a.Value(i)), nil }
	case *array.LargeString:
		return func(b []byte, i int) ([]byte, error) { return appendString(b, a.Value(i)), nil }
	case *array.Binary:
		return func(b []byte, i int) ([]byte, error) { return appendBase64(b, a.Value(i)), nil }
	case *array.LargeBinary:
		return func(b []byte, i int) ([]byte, error) { return appendBase64(b, a.Value(i)), nil }
	case *array.FixedSizeBinary:
		return func(b []byte, i int) ([]byte, error) { return appendBase64(b, a.Value(i)), nil }
	case *array.Date32:
		return func(b []byte, i int) ([]byte, error) {
			t := a.Value(i).ToTime()
			if t.Year() < 0 || t.Year() > 9999 {
				return strconv.AppendInt(b, int64(a.Value(i)), 10), nil
			}
			return appendTime(b, t, time.DateOnly), nil
		}
	case *array.Date64:
		return func(b []byte, i int) ([]byte, error) {
			v := a.Value(i)
			t := v.ToTime()
			if v%86_400_000 != 0 || t.Year() < 0 || t.Year() > 9999 {
				return strconv.AppendInt(b, int64(v), 10), nil
			}
			return appendTime(b, t, time.DateOnly), nil
		}
	case *array.Time32:
		unit := a.DataType().(*arrow.Time32Type).Unit
		return func(b []byte, i int) ([]byte, error) {
			return appendTime(b, a.Value(i).ToTime(unit), "15:04:05.999999999"), nil
		}
	case *array.Time64:
		unit := a.DataType().(*arrow.Time64Type).Unit
		return func(b []byte, i int) ([]byte, error) {
			return appendTime(b, a.Value(i).ToTime(unit), "15:04:05.999999999"), nil
		}
	case *array.Timestamp:
		dt := a.DataType().(*arrow.TimestampType)
		toTime, err := dt.GetToTimeFunc()
		if err != nil {
			return func([]byte, int) ([]byte, error) { return nil, err }
		}
		return func(b []byte, i int) ([]byte, error) {
			t := toTime(a.Value(i))
			if t.Year() < 0 || t.Year() > 9999 {
				return strconv.AppendInt(b, int64(a.Value(i)), 10), nil
			}
			layout := "2006-01-02T15:04:05.999999999"
			if dt.TimeZone != "" {
				layout += "Z07:00"
				if _, off := t.Zone(); off%60 != 0 {
					layout += ":00"
				}
			}
			return appendTime(b, t, layout), nil
		}
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		return func(b []byte, i int) ([]byte, error) { return appendString(b, a.Value(i).ToString(scale)), nil }
	case *array.Decimal256:
		scale := a.DataType().(*arrow.Decimal256Type).Scale
		return func(b []byte, i int) ([]byte, error) { return appendString(b, a.Value(i).ToString(scale)), nil }
	}
	// Nested and other types: arrow-go's JSON form of the value
	// (GetOneForMarshal), encoded by encoding/json.
	return func(b []byte, i int) ([]byte, error) {
		v, err := stdjson.Marshal(col.GetOneForMarshal(i))
		if err != nil {
			return nil, err
		}
		return append(b, v...), nil
	}
}

func appendTime(b []byte, t time.Time, layout string) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, layout)
	return append(b, '"')
}

// appendFloat appends f as encoding/json does (shortest form that reads
// back exactly; exponent only for very large or small magnitudes), and
// NaN and infinities, which JSON numbers cannot express, as the strings
// "NaN", "+Inf" and "-Inf".
func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"+Inf"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Inf"`...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func appendBase64(b, v []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
