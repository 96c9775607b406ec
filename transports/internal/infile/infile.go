// Package infile is the read side of the file transports' lifecycle, as
// outfile is the write side: what the sources of csv, jsonl, parquet and
// arrowfile share around their format's decoding. State holds the
// source's sticky error, end of data and closed flag, and implements the
// rules of transports.Source.Read and Close on them; Open opens the file
// with the package's error prefix.
//
// A State is used from one goroutine at a time.
package infile

import (
	"context"
	"fmt"
	"io"
	"os"
)

// BufferSize is the size of the buffer between a source's file and its
// decoder.
const BufferSize = 1 << 20

// UTF8BOM is the byte order mark a text file may start with; text
// sources skip it.
var UTF8BOM = []byte{0xEF, 0xBB, 0xBF}

// State is a source's read state. A source embeds it as a field and
// delegates to it.
type State struct {
	path      string
	prefix    string // "csv"
	errClosed error  // the package's ErrClosed
	err       error  // sticky
	eof       bool
	closed    bool
}

// NewState returns the state of a source named prefix (its error
// prefix) reading path; errClosed is returned after Close.
func NewState(path, prefix string, errClosed error) State {
	return State{path: path, prefix: prefix, errClosed: errClosed}
}

// Open opens path for reading. Errors read "<prefix>: open <path>:
// <cause>" and wrap the os error.
func Open(prefix, path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: open %s: %w", prefix, path, err)
	}
	return f, nil
}

// Begin runs the checks that open every Read and returns the error Read
// must return, or nil to read the next batch: errClosed after Close, the
// sticky failure, io.EOF after the end, ctx's error (which is not
// sticky: the source stays usable).
func (s *State) Begin(ctx context.Context) error {
	switch {
	case s.closed:
		return s.errClosed
	case s.err != nil:
		return s.err
	case s.eof:
		return io.EOF
	}
	return ctx.Err()
}

// Fail records err as the source's failure, which every later Read
// returns, and returns it.
func (s *State) Fail(err error) error {
	s.err = err
	return err
}

// ReadError records "<prefix>: read <path>: <err>" as the source's
// failure and returns it.
func (s *State) ReadError(err error) error {
	return s.Fail(fmt.Errorf("%s: read %s: %w", s.prefix, s.path, err))
}

// SetEOF records that the data has ended: later Reads return io.EOF.
func (s *State) SetEOF() { s.eof = true }

// EOF records that the data has ended and returns io.EOF.
func (s *State) EOF() error {
	s.eof = true
	return io.EOF
}

// Close marks the source closed and calls release (if not nil) the first
// time; later calls return nil. release's error is returned as
// "<prefix>: close <path>: <err>".
func (s *State) Close(release func() error) error {
	if s.closed {
		return nil
	}
	s.closed = true
	if release == nil {
		return nil
	}
	if err := release(); err != nil {
		return fmt.Errorf("%s: close %s: %w", s.prefix, s.path, err)
	}
	return nil
}
