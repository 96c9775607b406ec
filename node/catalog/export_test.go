package catalog

import (
	"encoding/json"

	"github.com/zeebo/xxh3"
)

// Internals for the tests of package catalog_test (cluster tests use
// catalogtest, which imports this package).

// FirstLogIndex returns the first index of c's Raft log store.
func FirstLogIndex(c *Catalog) (uint64, error) { return c.wal.FirstIndex() }

// PipelinesHash hashes the pipelines part of f's state (not the node table
// or the sessions).
func PipelinesHash(f *FSM) uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := json.Marshal(f.st.Pipelines)
	if err != nil {
		panic(err)
	}
	return xxh3.Hash(b)
}

// Sessions returns how many command sessions f keeps.
func Sessions(f *FSM) int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.st.Sessions)
}
