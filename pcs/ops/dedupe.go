package ops

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/pcs"
)

// Dedupe returns a system that soft-deletes every alive row of the
// dataset whose key tuple (c's fields keys, of types string, large_string
// or integer) equals that of an earlier alive row of the same dataset: the
// first occurrence is kept. A row with a null in any key field is never a duplicate and
// is kept (SQL: null is not equal to null). Rows already deleted neither
// count as seen nor change.
//
// Scope: one dataset (one partition) at a time; rows seen in earlier
// datasets, or in other partitions, are not remembered (the system holds
// no state between runs). [DedupeAcross] remembers them.
//
// Meta: reads the key fields, writes pcs.Rows. Errors (*Error, Expr
// "dedupe(keys...)"): no key, an unknown field (wrapping
// pcs.ErrUnknownField), a key of another type, a key named twice.
func Dedupe(name string, c pcs.AnyComponent, keys []string) (pcs.System, error) {
	desc := "dedupe(" + strings.Join(keys, ", ") + ")"
	return newDedupe(name, desc, c, keys, nil)
}

// DedupeOptions configures [DedupeAcross].
type DedupeOptions struct {
	// MaxKeys bounds the key tuples remembered across partitions; beyond
	// it the oldest are forgotten first (FIFO), so a duplicate further
	// apart than MaxKeys distinct keys passes. Default 1,000,000.
	MaxKeys int
}

// DedupeAcross is [Dedupe] with state: a key tuple seen in any earlier
// dataset (partition) deletes the later rows with that key too, up to
// opts.MaxKeys remembered keys. The state lives in the system (one per
// pipeline, shared by the partitions a node runs concurrently, under a
// lock) and is not checkpointed: a restarted process starts empty.
//
// Redelivery: each remembered key records the partition that first had
// it, read from the dataset's [pcs.PartitionID] resource. When a
// partition is processed again (redelivered after a failure, or retried
// after a later system failed), its own keys are not duplicates of
// themselves, so a replay keeps the rows it kept the first time. Without a
// PartitionID resource every dataset counts as a new partition. Keys are
// remembered only when the run succeeds.
//
// Meta: Dedupe's, plus a read of pcs.Resource[pcs.PartitionID]().
func DedupeAcross(name string, c pcs.AnyComponent, keys []string, opts DedupeOptions) (pcs.System, error) {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 1_000_000
	}
	desc := "dedupe(" + strings.Join(keys, ", ") + ") across partitions"
	return newDedupe(name, desc, c, keys, &dedupeState{max: opts.MaxKeys, owner: map[string]pcs.PartitionID{}})
}

func newDedupe(name, desc string, c pcs.AnyComponent, keys []string, state *dedupeState) (pcs.System, error) {
	if len(keys) == 0 {
		return nil, &Error{System: name, Expr: desc, Err: errors.New("no key field")}
	}
	s := &dedupeSystem{desc: desc, state: state}
	seen := map[string]bool{}
	var reads []pcs.Ref
	for _, k := range keys {
		f, err := keyField(c, k, seen)
		if err != nil {
			return nil, &Error{System: name, Expr: desc, Err: err}
		}
		s.keys = append(s.keys, f)
		reads = append(reads, f)
	}
	if state != nil {
		reads = append(reads, pcs.Resource[pcs.PartitionID]())
	}
	s.meta = pcs.Meta(name).Read(reads...).Write(pcs.Rows)
	return s, nil
}

type dedupeSystem struct {
	meta  pcs.SystemMeta
	desc  string
	keys  []pcs.FieldRef[arrow.Array]
	state *dedupeState // nil: within one dataset only
}

// dedupeState is the memory of DedupeAcross: the partition that first had
// each key, and the keys in the order they were remembered (for FIFO
// eviction; order[head:] are live).
type dedupeState struct {
	mu    sync.Mutex
	max   int
	owner map[string]pcs.PartitionID
	order []string
	head  int
}

// seenElsewhere reports whether key was first seen in another partition
// than id ("" is always another).
func (st *dedupeState) seenElsewhere(key []byte, id pcs.PartitionID) bool {
	owner, ok := st.owner[string(key)]
	return ok && (id == "" || owner != id)
}

// remember records keys as first seen in id, forgetting the oldest keys
// beyond max.
func (st *dedupeState) remember(keys []string, id pcs.PartitionID) {
	for _, k := range keys {
		if _, ok := st.owner[k]; ok {
			continue
		}
		st.owner[k] = id
		st.order = append(st.order, k)
	}
	for len(st.owner) > st.max {
		delete(st.owner, st.order[st.head])
		st.order[st.head] = ""
		st.head++
	}
	if st.head > len(st.order)/2 && st.head > 1024 { // reclaim the forgotten prefix
		st.order = append([]string(nil), st.order[st.head:]...)
		st.head = 0
	}
}

func (s *dedupeSystem) Meta() pcs.SystemMeta { return s.meta }

// String returns "dedupe name: dedupe(keys...)".
func (s *dedupeSystem) String() string { return "dedupe " + s.meta.Name + ": " + s.desc }

func (s *dedupeSystem) Run(ctx context.Context, ds *pcs.Dataset) error {
	keys, err := keyArrays(ds, s.keys)
	if err != nil {
		return runErr(ctx, err)
	}
	enc, err := keyCols(keys)
	if err != nil { // the dataset's field has another type than c's
		return runErr(ctx, err)
	}
	var id pcs.PartitionID
	if s.state != nil {
		id, _ = pcs.GetResource[pcs.PartitionID](ds) // none: every dataset is new
		s.state.mu.Lock()
		defer s.state.mu.Unlock()
	}
	seen := map[string]struct{}{}
	var fresh []string
	var buf []byte
	for i, n := 0, ds.Len(); i < n; i++ {
		if i&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !ds.Alive(i) {
			continue
		}
		var ok bool
		if buf, ok = encodeKey(enc, buf, i); !ok {
			continue
		}
		_, dup := seen[string(buf)]
		if !dup && s.state != nil && s.state.seenElsewhere(buf, id) {
			dup = true
		}
		if !dup {
			k := string(buf)
			seen[k] = struct{}{}
			if s.state != nil {
				fresh = append(fresh, k)
			}
			continue
		}
		if err := ds.Delete(i); err != nil {
			return runErr(ctx, err)
		}
	}
	if s.state != nil {
		s.state.remember(fresh, id)
	}
	return nil
}
