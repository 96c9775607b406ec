package state

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/pcs-dev/pcs/pcs"
)

// Memory is the in-memory pcs.StateBackend: a map, its keys sorted when
// Range or Snapshot runs (O(k log k) for the k keys of the prefix). The
// zero value is not usable: call NewMemory.
type Memory struct {
	mu     sync.RWMutex
	m      map[string][]byte // values are never mutated in place
	closed bool
}

var _ pcs.StateBackend = (*Memory)(nil)

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory { return &Memory{m: map[string][]byte{}} }

func closedErr(op string) error { return fmt.Errorf("%w: %s", ErrClosed, op) }

// Get returns a copy of key's value.
func (b *Memory) Get(key []byte) ([]byte, bool, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, false, closedErr("get")
	}
	v, ok := b.m[string(key)]
	if !ok {
		return nil, false, nil
	}
	return bytes.Clone(v), true, nil
}

// Put stores copies of key and value.
func (b *Memory) Put(key, value []byte) error {
	v := make([]byte, len(value))
	copy(v, value)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return closedErr("put")
	}
	b.m[string(key)] = v
	return nil
}

// Delete removes key.
func (b *Memory) Delete(key []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return closedErr("delete")
	}
	delete(b.m, string(key))
	return nil
}

type entry struct {
	k string
	v []byte
}

// sorted returns the entries under prefix in key order (values shared:
// they are never mutated).
func (b *Memory) sorted(prefix []byte, op string) ([]entry, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, closedErr(op)
	}
	p := string(prefix)
	var es []entry
	for k, v := range b.m {
		if strings.HasPrefix(k, p) {
			es = append(es, entry{k, v})
		}
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.k, b.k) })
	return es, nil
}

// Range calls fn for the keys under prefix in key order.
func (b *Memory) Range(prefix []byte, fn func(key, value []byte) error) error {
	es, err := b.sorted(prefix, "range")
	if err != nil {
		return err
	}
	for _, e := range es {
		if err := fn([]byte(e.k), e.v); err != nil {
			return err
		}
	}
	return nil
}

// Snapshot writes every entry to w.
func (b *Memory) Snapshot(w io.Writer) error {
	es, err := b.sorted(nil, "snapshot")
	if err != nil {
		return err
	}
	sw := NewSnapshotWriter(w)
	for _, e := range es {
		if err := sw.Add([]byte(e.k), e.v); err != nil {
			return err
		}
	}
	return sw.Close()
}

// Restore reads a whole snapshot, then swaps it in.
func (b *Memory) Restore(r io.Reader) error {
	m := map[string][]byte{}
	if err := ReadSnapshot(r, func(k, v []byte) error {
		m[string(k)] = bytes.Clone(v)
		return nil
	}); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return closedErr("restore")
	}
	b.m = m
	return nil
}

// Close drops the state.
func (b *Memory) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed, b.m = true, nil
	return nil
}

// Len returns the number of keys (for tests and metrics).
func (b *Memory) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.m)
}
