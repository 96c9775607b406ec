package pebblestate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble"
)

// CheckpointFiles writes the store as of now to a new directory beside
// the store's (<dir>.ckpt-*), which it returns: the memtables are
// flushed to SSTs first (the write-ahead log is off), then Pebble's
// DB.Checkpoint hard-links the SSTs into it and
// copies the MANIFEST, OPTIONS and marker files. SST files (*.sst) are
// immutable and the store does not reuse their names (file numbers)
// until RestoreFiles returns it to an older checkpoint, so a runtime that
// stored an SST of an earlier checkpoint of this store since its last
// RestoreFiles, under the same name and size, need not store it again.
func (b *Backend) CheckpointFiles() (string, error) {
	if err := b.enter("checkpoint"); err != nil {
		return "", err
	}
	defer b.mu.RUnlock()
	if err := b.db.Flush(); err != nil {
		return "", fmt.Errorf("pebblestate: checkpoint: flush: %w", err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(b.dir), filepath.Base(b.dir)+".ckpt-*")
	if err != nil {
		return "", fmt.Errorf("pebblestate: checkpoint: %w", err)
	}
	if err := os.Remove(dir); err != nil { // DB.Checkpoint creates it
		return "", fmt.Errorf("pebblestate: checkpoint: %w", err)
	}
	if err := b.db.Checkpoint(dir); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("pebblestate: checkpoint %s: %w", dir, err)
	}
	return dir, nil
}

// RestoreFiles replaces the store with the checkpoint in dir (files
// CheckpointFiles wrote, possibly stored elsewhere and fetched back): the
// store is closed, its directory emptied, dir's SSTs hard-linked (or
// copied) into it and its other files copied (Pebble appends to its
// MANIFEST: a link would change dir's), and the store reopened. dir stays the caller's. If
// the checkpoint does not open, the error says so and the backend is
// closed (its state is unknown).
func (b *Backend) RestoreFiles(dir string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("pebblestate: restore files: backend closed")
	}
	if err := b.db.Close(); err != nil {
		b.closed = true
		return fmt.Errorf("pebblestate: restore files: close: %w", err)
	}
	db, err := replaceDir(b.dir, dir, b.cache)
	if err != nil {
		b.closed = true
		return err
	}
	b.db = db
	return nil
}

// replaceDir empties dst, links or copies src's files into it and opens
// the store there.
func replaceDir(dst, src string, cache int64) (*pebble.DB, error) {
	old, err := os.ReadDir(dst)
	if err != nil {
		return nil, fmt.Errorf("pebblestate: restore files: %w", err)
	}
	for _, e := range old {
		if err := os.RemoveAll(filepath.Join(dst, e.Name())); err != nil {
			return nil, fmt.Errorf("pebblestate: restore files: %w", err)
		}
	}
	files, err := os.ReadDir(src)
	if err != nil {
		return nil, fmt.Errorf("pebblestate: restore files: %w", err)
	}
	for _, e := range files {
		if e.IsDir() {
			continue
		}
		if err := linkOrCopy(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return nil, fmt.Errorf("pebblestate: restore files: %w", err)
		}
	}
	return open(dst, cache)
}

// linkOrCopy hard-links an SST, copies other files and SSTs it cannot link.
func linkOrCopy(src, dst string) error {
	if strings.HasSuffix(src, ".sst") && os.Link(src, dst) == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
