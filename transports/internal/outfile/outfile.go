// Package outfile is the output-file lifecycle shared by the file
// transports (csv, jsonl, arrowfile, parquet): creating the file,
// optionally under a temporary name, buffered writing, flushing with
// fsync, and finishing it either by committing (flush, fsync, close and
// rename to the final name) or by abandoning it (close and remove).
//
// Errors returned by File's methods read "<op> <path>: <cause>", where op
// is create, write, sync, close or finish and path is the final name, so
// that a transport can prefix them with its own name ("csv: %w").
//
// A File is used from one goroutine at a time.
package outfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// BufferSize is the size of the buffer between a File's Writer and the
// operating system file.
const BufferSize = 1 << 20

// ErrFinished is returned (wrapped) by Commit on a File that was
// abandoned, or whose earlier Commit failed.
var ErrFinished = errors.New("outfile: file already finished")

// File is an output file being written. Create it with Create, write
// through Writer, and end it with Commit or Abandon.
type File struct {
	path      string // final name
	tmp       string // name while written (== path unless atomic)
	f         *os.File
	bw        *bufio.Writer
	done      bool // Commit or Abandon was called
	committed bool // Commit succeeded
}

// Create creates the file at path, replacing an existing one. With
// atomic it creates instead a temporary file (mode 0644) in path's
// directory, named ".<base>.*.tmp", which Commit renames to path, so
// path is replaced only by a complete file.
//
// On failure nothing is left behind and the error reads
// "create <path>: <cause>".
func Create(path string, atomic bool) (*File, error) {
	var (
		f   *os.File
		err error
	)
	if atomic {
		dir, base := filepath.Split(path)
		if dir == "" {
			dir = "."
		}
		f, err = os.CreateTemp(dir, "."+base+".*.tmp")
		if err == nil {
			err = f.Chmod(0o644)
		}
	} else {
		f, err = os.Create(path)
	}
	if err != nil {
		if f != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &File{path: path, tmp: f.Name(), f: f, bw: bufio.NewWriterSize(f, BufferSize)}, nil
}

// Path returns the final name of the file.
func (f *File) Path() string { return f.path }

// Name returns the name the file has while it is written: the temporary
// name with atomic, else Path.
func (f *File) Name() string { return f.tmp }

// Writer returns the buffered writer into the file. Its bytes reach the
// file on Flush, FlushBuffer or Commit (or when the buffer fills).
func (f *File) Writer() io.Writer { return f.bw }

// FlushBuffer writes the buffered bytes to the operating system, without
// fsync. Errors read "write <path>: <cause>".
func (f *File) FlushBuffer() error {
	if err := f.bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	return nil
}

// Flush writes the buffered bytes to the file and fsyncs it. Errors read
// "write <path>: <cause>" or "sync <path>: <cause>".
func (f *File) Flush() error {
	if err := f.FlushBuffer(); err != nil {
		return err
	}
	if err := f.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", f.path, err)
	}
	return nil
}

// Commit flushes the buffer, fsyncs and closes the file and, if it was
// created atomic, renames it to its final name and fsyncs the directory. The file is complete only
// after Commit returned nil. If any step fails the file is closed and
// removed, and the error reads "finish <path>: <cause>" (or "close
// <path>: <cause>" when closing failed).
//
// Commit is idempotent: after a successful Commit later calls return
// nil; after Abandon or a failed Commit they return ErrFinished.
func (f *File) Commit() error {
	if f.done {
		if f.committed {
			return nil
		}
		return fmt.Errorf("finish %s: %w", f.path, ErrFinished)
	}
	if err := errors.Join(f.bw.Flush(), f.f.Sync()); err != nil {
		_ = f.Abandon()
		return fmt.Errorf("finish %s: %w", f.path, err)
	}
	f.done = true
	if err := f.f.Close(); err != nil {
		_ = os.Remove(f.tmp)
		return fmt.Errorf("close %s: %w", f.path, err)
	}
	if f.tmp != f.path {
		if err := os.Rename(f.tmp, f.path); err != nil {
			_ = os.Remove(f.tmp)
			return fmt.Errorf("finish %s: %w", f.path, err)
		}
		syncDir(filepath.Dir(f.path))
	}
	f.committed = true
	return nil
}

// syncDir fsyncs a directory so that a rename in it survives a crash.
// Failures are ignored: some file systems cannot sync directories, and
// the file itself is complete either way.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// Abandon closes the file and removes it (under the name it has while
// written), discarding the buffered bytes. It returns the first error of
// closing or removing. Abandon is idempotent, and a no-op returning nil
// after Commit.
func (f *File) Abandon() error {
	if f.done {
		return nil
	}
	f.done = true
	cerr := f.f.Close()
	rerr := os.Remove(f.tmp)
	if cerr != nil {
		return fmt.Errorf("close %s: %w", f.path, cerr)
	}
	if rerr != nil {
		return fmt.Errorf("finish %s: %w", f.path, rerr)
	}
	return nil
}
