package arrowfile

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/pcs-dev/pcs/pcs/ipcguard"
	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/internal/fileopt"
	"github.com/pcs-dev/pcs/transports/internal/infile"
)

// fileMagic opens (and ends) every Arrow IPC file.
var fileMagic = []byte("ARROW1")

const (
	// maxBodySize and maxMetadataSize are arrow-go's default limits on
	// one IPC message (256 MiB body, 64 MiB metadata).
	maxBodySize     = 256 << 20
	maxMetadataSize = 64 << 20
)

// Source reads an Arrow IPC file or stream from disk. It implements
// transports.Source.
//
// Read is called from one goroutine at a time; Schema, Format and
// NumBatches may be called at any time.
type Source struct {
	path   string
	format Format
	schema *arrow.Schema

	// FormatFile
	fr   *ipc.FileReader
	next int

	// FormatStream
	f  *os.File
	sr *ipc.Reader

	state infile.State // sticky error, end, closed
}

var _ transports.Source = (*Source)(nil)

// NewSource opens the Arrow IPC data at path. It reads the first bytes
// to tell the file format ("ARROW1") from the stream format (anything
// else), then the schema. A file-format file is read into memory whole
// (memory use: the file's size, outside the allocator) and decoded
// without copying column data; a stream is read batch by batch.
//
// The IPC reader's safety limits stay in force (a message body over
// 256 MiB or metadata over 64 MiB is an error), and no message may claim
// more bytes than the file has, so corrupt input cannot make the reader
// allocate more than the file's size.
//
// Errors: the file cannot be opened or read (wrapped os error);
// ErrNotArrow (wrapped with the decoder's error) for an empty file or
// one that is neither format; ErrInvalidOption.
func NewSource(path string, opts ...SourceOption) (*Source, error) {
	cfg := sourceConfig{SourceBase: fileopt.NewSourceBase(0)}
	if err := fileopt.ApplySource(&cfg, opts); err != nil {
		return nil, err
	}
	f, err := infile.Open("arrowfile", path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, len(fileMagic))
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("arrowfile: read %s: %w", path, err)
	}
	if n == 0 {
		f.Close()
		return nil, fmt.Errorf("%w: %s is empty", ErrNotArrow, path)
	}
	s := &Source{path: path, state: infile.NewState(path, "arrowfile", ErrClosed)}
	if bytes.Equal(head[:n], fileMagic) {
		s.format = FormatFile
		err = s.openFile(f, &cfg)
		f.Close()
	} else {
		s.format = FormatStream
		err = s.openStream(f, head[:n], &cfg)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Source) openFile(f *os.File, cfg *sourceConfig) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("arrowfile: stat %s: %w", s.path, err)
	}
	// The batches returned point into data (when uncompressed); the
	// garbage collector keeps it alive as long as one of them is.
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return fmt.Errorf("arrowfile: read %s: %w", s.path, err)
	}
	// arrow-go trusts the counts in IPC metadata (a small corrupt file can
	// make it allocate without bound): check them first.
	info, err := ipcguard.CheckFile(data)
	if err != nil {
		return fmt.Errorf("%w: %s (file format): %w", ErrNotArrow, s.path, err)
	}
	fr, err := recovered(func() (*ipc.FileReader, error) {
		if info.Dictionaries {
			// arrow-go v18.8.0: NewMappedFileReader leaves its dictionary
			// memo uninitialised and panics on dictionary-encoded fields;
			// NewFileReader handles them (it copies buffers).
			return ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(cfg.Mem))
		}
		return ipc.NewMappedFileReader(data, ipc.WithAllocator(cfg.Mem))
	})
	if err != nil {
		return fmt.Errorf("%w: %s (file format): %w", ErrNotArrow, s.path, err)
	}
	s.fr, s.schema = fr, fr.Schema()
	return nil
}

// errPanic marks a panic of arrow-go's IPC decoder turned into an error.
var errPanic = errors.New("arrow/ipc panicked")

// recovered calls f and turns a panic into an error wrapping errPanic.
// arrow-go's IPC readers panic on some malformed input (a footer shorter
// than its offset field, and, for NewMappedFileReader, any dictionary)
// instead of returning an error.
func recovered[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			v, err = zero, fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	return f()
}

func (s *Source) openStream(f *os.File, head []byte, cfg *sourceConfig) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("arrowfile: stat %s: %w", s.path, err)
	}
	// No message can be larger than the file: bounding the reader's
	// limits by its size means a corrupt length field cannot make it
	// allocate more than that. (ipc.NewReader would apply no limit at
	// all in arrow-go v18.8.0: it builds its message reader without the
	// configured limits; NewMessageReader applies them.)
	opts := []ipc.Option{
		ipc.WithAllocator(cfg.Mem),
		ipc.WithBodySizeLimit(min(st.Size(), maxBodySize)),
		ipc.WithMetadataSizeLimit(min(st.Size(), maxMetadataSize)),
	}
	r := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(head), f), infile.BufferSize)
	sr, err := ipc.NewReaderFromMessageReader(ipc.NewMessageReader(r, opts...), opts...)
	if err != nil {
		return fmt.Errorf("%w: %s (stream format): %w", ErrNotArrow, s.path, err)
	}
	s.f, s.sr, s.schema = f, sr, sr.Schema()
	return nil
}

// Format returns the framing NewSource detected.
func (s *Source) Format() Format { return s.format }

// Schema returns the schema of every batch, read from the file's footer
// or the stream's first message.
func (s *Source) Schema() *arrow.Schema { return s.schema }

// NumBatches returns the number of record batches in a file-format file,
// from its footer, or -1 for a stream (unknown before the end).
func (s *Source) NumBatches() int {
	if s.format == FormatStream {
		return -1
	}
	return s.fr.NumRecords()
}

// Read returns the next record batch as it was written, including
// batches with zero rows, or io.EOF after the last one (and on every
// later call). The batch belongs to the caller, who releases it; it stays
// valid after later Reads and after Close.
//
// ctx is checked before each batch is decoded; decoding is not
// interrupted. A decode error (wrapped with the path) is repeated by
// every later Read. Read after Close returns ErrClosed.
func (s *Source) Read(ctx context.Context) (arrow.RecordBatch, error) {
	if err := s.state.Begin(ctx); err != nil {
		return nil, err
	}
	if s.format == FormatFile {
		if s.next >= s.fr.NumRecords() {
			return nil, s.state.EOF()
		}
		// RecordBatchAt hands over ownership (unlike Read and RecordBatch,
		// whose result is released by the next call).
		rec, err := recovered(func() (arrow.RecordBatch, error) { return s.fr.RecordBatchAt(s.next) })
		if err != nil {
			return nil, s.state.ReadError(fmt.Errorf("batch %d: %w", s.next, err))
		}
		s.next++
		return rec, nil
	}
	rec, err := recovered(s.sr.Read)
	if errors.Is(err, io.EOF) || (err == nil && rec == nil) {
		return nil, s.state.EOF()
	}
	if err != nil {
		return nil, s.state.ReadError(err)
	}
	// The stream reader releases rec on its next Read: keep our own
	// reference for the caller.
	rec.Retain()
	return rec, nil
}

// Close releases the reader and closes the file. Batches already
// returned stay valid. Close is idempotent.
func (s *Source) Close() error {
	return s.state.Close(func() error {
		if s.fr != nil {
			_ = s.fr.Close()
		}
		if s.sr != nil {
			s.sr.Release()
			return s.f.Close()
		}
		return nil
	})
}
