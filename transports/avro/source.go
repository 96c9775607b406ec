package avro

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	arrowavro "github.com/apache/arrow-go/v18/arrow/avro"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/internal/fileopt"
	"github.com/pcs-dev/pcs/transports/internal/infile"
)

// Magic opens every Avro object container file.
var Magic = []byte("Obj\x01")

// Source reads an Avro object container file as record batches. It
// implements transports.Source.
//
// Read is called from one goroutine at a time; Schema may be called at
// any time. arrow-go's reader decodes ahead on goroutines of its own,
// which Close stops.
type Source struct {
	path  string
	f     *os.File
	r     *arrowavro.OCFReader
	state infile.State // sticky error, end, closed
}

var _ transports.Source = (*Source)(nil)

// NewSource opens the Avro object container file at path and reads its
// header (the schema).
//
// Errors: the file cannot be opened or read (wrapped os error);
// ErrNotAvro (naming the file) for a file without the magic, a bad
// header or a schema arrow-go cannot map; ErrInvalidOption.
func NewSource(path string, opts ...SourceOption) (*Source, error) {
	cfg := sourceConfig{SourceBase: fileopt.NewSourceBase(DefaultBatchRows)}
	if err := fileopt.ApplySource(&cfg, opts); err != nil {
		return nil, err
	}
	f, err := infile.Open("avro", path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	head, err := br.Peek(len(Magic))
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("avro: read %s: %w", path, err)
	}
	if !bytes.Equal(head, Magic) {
		f.Close()
		return nil, fmt.Errorf("%w: %s does not start with %q", ErrNotAvro, path, Magic)
	}
	r, err := newReader(br, cfg)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrNotAvro, path, err)
	}
	return &Source{path: path, f: f, r: r, state: infile.NewState(path, "avro", ErrClosed)}, nil
}

// newReader calls arrow-go's constructor, turning a panic into an error.
func newReader(r io.Reader, cfg sourceConfig) (rd *arrowavro.OCFReader, err error) {
	defer func() {
		if p := recover(); p != nil {
			rd, err = nil, fmt.Errorf("arrow/avro panicked: %v", p)
		}
	}()
	return arrowavro.NewOCFReader(r, arrowavro.WithAllocator(cfg.Mem), arrowavro.WithChunk(int(min(cfg.BatchRows, 1<<31-1))))
}

// Schema returns the schema of every batch, mapped from the file's Avro
// schema.
func (s *Source) Schema() *arrow.Schema { return s.r.Schema() }

// AvroSchema returns the file's Avro schema (JSON).
func (s *Source) AvroSchema() string { return s.r.AvroSchema() }

// Read returns the next batch (at most the batch rows, never zero),
// which belongs to the caller, who releases it; it stays valid after
// later Reads and after Close. After the last row Read returns io.EOF,
// and keeps doing so.
//
// Errors: a decoding error, "avro: read <path>: ...", repeated by every
// later Read; ctx's error (the source stays usable); ErrClosed after
// Close.
func (s *Source) Read(ctx context.Context) (arrow.RecordBatch, error) {
	if err := s.state.Begin(ctx); err != nil {
		return nil, err
	}
	for {
		ok, err := next(s.r)
		if err == nil {
			err = s.r.Err()
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, s.state.ReadError(err)
		}
		if !ok {
			return nil, s.state.EOF()
		}
		rec := s.r.RecordBatch()
		if rec.NumRows() == 0 {
			continue
		}
		rec.Retain()
		return rec, nil
	}
}

// next calls r.Next, turning a panic of arrow-go's reader into an error.
func next(r *arrowavro.OCFReader) (ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			ok, err = false, fmt.Errorf("arrow/avro panicked: %v", p)
		}
	}()
	return r.Next(), nil
}

// Close stops the reader and closes the file. Batches already returned
// stay valid. Close is idempotent.
func (s *Source) Close() error {
	return s.state.Close(func() error {
		s.r.Release()
		return s.f.Close()
	})
}
