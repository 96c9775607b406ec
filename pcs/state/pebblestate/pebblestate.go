// Package pebblestate is the disk-backed pcs.StateBackend on Pebble
// (github.com/cockroachdb/pebble), an LSM store: for keyed state larger
// than memory. Only the block cache and the memtables (32 MiB each, up
// to two) live in memory; SSTs carry bloom filters (10 bits per key).
//
// The store is a working copy, not a durable one: the write-ahead log is
// off and writes are not synced, because state survives a crash through
// the runtime's checkpoints (Snapshot, Restore), not through the files.
// Open with [Truncate] to start from an empty state whatever the
// directory holds.
package pebblestate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/state"
)

// DefaultCacheSize is the block cache's size without [CacheSize].
const DefaultCacheSize = 64 << 20

// memTableSize is each memtable's size (Pebble keeps up to two while one
// flushes): larger than Pebble's 4 MiB default, so that a state written
// in bursts (a window's spills) makes fewer, larger L0 files.
const memTableSize = 32 << 20

// Option configures Open.
type Option func(*config) error

type config struct {
	cache    int64
	truncate bool
}

// CacheSize sets the block cache's size in bytes (> 0).
func CacheSize(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("pebblestate: cache size %d must be > 0", n)
		}
		c.cache = n
		return nil
	}
}

// Truncate deletes every key the directory's store holds when it opens.
func Truncate() Option { return func(c *config) error { c.truncate = true; return nil } }

// Backend is a pcs.StateBackend on a Pebble store in one directory. It
// implements pcs.StateFiles: its checkpoints are Pebble checkpoints
// (immutable SST files, hard-linked, plus the small MANIFEST and OPTIONS
// files), so a runtime can store only the SSTs it has not stored before.
type Backend struct {
	db    *pebble.DB
	dir   string
	cache int64

	mu     sync.RWMutex // held for reading by every call, for writing by Close and RestoreFiles
	closed bool
}

var (
	_ pcs.StateBackend = (*Backend)(nil)
	_ pcs.StateFiles   = (*Backend)(nil)
)

// Open opens (creating it if needed) the store in dir. One process opens
// a directory once at a time (Pebble locks it).
func Open(dir string, opts ...Option) (*Backend, error) {
	c := config{cache: DefaultCacheSize}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	db, err := open(dir, c.cache)
	if err != nil {
		return nil, err
	}
	b := &Backend{db: db, dir: dir, cache: c.cache}
	if c.truncate {
		if err := b.truncate(); err != nil {
			db.Close()
			return nil, err
		}
	}
	return b, nil
}

func open(dir string, cache int64) (*pebble.DB, error) {
	c := pebble.NewCache(cache)
	defer c.Unref()
	db, err := pebble.Open(dir, &pebble.Options{Cache: c, DisableWAL: true, Logger: quiet{}, MemTableSize: memTableSize,
		// bloom filters: a Get of a missing key (a key the window meets
		// for the first time) mostly skips the SSTs
		Levels: []pebble.LevelOptions{{FilterPolicy: bloom.FilterPolicy(10)}}})
	if err != nil {
		return nil, fmt.Errorf("pebblestate: open %s: %w", dir, err)
	}
	return db, nil
}

// quiet drops Pebble's informational logs; a fatal one panics (Pebble's
// default logger would exit the process).
type quiet struct{}

func (quiet) Infof(string, ...any)              {}
func (quiet) Fatalf(format string, args ...any) { panic(fmt.Sprintf("pebblestate: "+format, args...)) }

func (b *Backend) truncate() error {
	first, last, err := b.bounds()
	if err != nil || first == nil {
		return err
	}
	if err := b.db.DeleteRange(first, append(last, 0), pebble.NoSync); err != nil {
		return fmt.Errorf("pebblestate: truncate: %w", err)
	}
	return nil
}

// bounds returns the smallest and largest keys; nil, nil when empty.
func (b *Backend) bounds() (first, last []byte, err error) {
	it, err := b.db.NewIter(nil)
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	if it.First() {
		first = bytes.Clone(it.Key())
		if first == nil {
			first = []byte{}
		}
		it.Last()
		last = bytes.Clone(it.Key())
	}
	return first, last, it.Error()
}

func (b *Backend) enter(op string) error {
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return fmt.Errorf("%w: %s", state.ErrClosed, op)
	}
	return nil
}

// Get returns a copy of key's value.
func (b *Backend) Get(key []byte) ([]byte, bool, error) {
	if err := b.enter("get"); err != nil {
		return nil, false, err
	}
	defer b.mu.RUnlock()
	v, closer, err := b.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pebblestate: get: %w", err)
	}
	out := make([]byte, len(v))
	copy(out, v)
	return out, true, closer.Close()
}

// Put sets key's value (not synced: see the package doc).
func (b *Backend) Put(key, value []byte) error {
	if err := b.enter("put"); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	if err := b.db.Set(key, value, pebble.NoSync); err != nil {
		return fmt.Errorf("pebblestate: put: %w", err)
	}
	return nil
}

// Delete removes key.
func (b *Backend) Delete(key []byte) error {
	if err := b.enter("delete"); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	if err := b.db.Delete(key, pebble.NoSync); err != nil {
		return fmt.Errorf("pebblestate: delete: %w", err)
	}
	return nil
}

// upperBound is the smallest key after every key with prefix p; nil if
// there is none (p empty or all 0xff).
func upperBound(p []byte) []byte {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != 0xff {
			u := bytes.Clone(p[:i+1])
			u[i]++
			return u
		}
	}
	return nil
}

// iterate runs fn over the keys under prefix of r (the DB or a snapshot).
func iterate(r pebble.Reader, prefix []byte, fn func(key, value []byte) error) error {
	opts := &pebble.IterOptions{UpperBound: upperBound(prefix)}
	if len(prefix) > 0 {
		opts.LowerBound = prefix
	}
	it, err := r.NewIter(opts)
	if err != nil {
		return fmt.Errorf("pebblestate: iterator: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return fmt.Errorf("pebblestate: iterate: %w", err)
	}
	return it.Close()
}

// Range iterates over a snapshot of the store, so fn may write.
func (b *Backend) Range(prefix []byte, fn func(key, value []byte) error) error {
	if err := b.enter("range"); err != nil {
		return err
	}
	snap := b.db.NewSnapshot()
	b.mu.RUnlock()
	defer snap.Close()
	return iterate(snap, prefix, fn)
}

// Snapshot writes the store as of a Pebble snapshot.
func (b *Backend) Snapshot(w io.Writer) error {
	if err := b.enter("snapshot"); err != nil {
		return err
	}
	snap := b.db.NewSnapshot()
	b.mu.RUnlock()
	defer snap.Close()
	sw := state.NewSnapshotWriter(w)
	if err := iterate(snap, nil, sw.Add); err != nil {
		return err
	}
	return sw.Close()
}

// Restore deletes every key and writes the snapshot's in one batch,
// committed only if the whole snapshot reads without error.
func (b *Backend) Restore(r io.Reader) error {
	if err := b.enter("restore"); err != nil {
		return err
	}
	defer b.mu.RUnlock()
	batch := b.db.NewBatch()
	defer batch.Close()
	first, last, err := b.bounds()
	if err != nil {
		return fmt.Errorf("pebblestate: restore: %w", err)
	}
	if first != nil {
		if err := batch.DeleteRange(first, append(last, 0), nil); err != nil {
			return fmt.Errorf("pebblestate: restore: %w", err)
		}
	}
	if err := state.ReadSnapshot(r, func(k, v []byte) error { return batch.Set(k, v, nil) }); err != nil {
		return err
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("pebblestate: restore: %w", err)
	}
	return nil
}

// Close flushes the memtables (without a write-ahead log they would be
// lost) and closes the store; its files stay in the directory.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	ferr := b.db.Flush()
	if err := errors.Join(ferr, b.db.Close()); err != nil {
		return fmt.Errorf("pebblestate: close: %w", err)
	}
	return nil
}

// Dir returns the store's directory.
func (b *Backend) Dir() string { return b.dir }
