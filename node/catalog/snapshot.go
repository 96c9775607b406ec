package catalog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
	"github.com/zeebo/xxh3"
)

// SnapshotVersion is the version of the snapshot format this build writes.
// Restore accepts only the versions it knows (today: 1) and refuses others
// with ErrSnapshotVersion.
//
// Format 1 is one JSON object: {"version":1,"state":{...}} where state holds
// "pipelines" (per pipeline: detailed partition records, compacted ids with
// their status, counters, checkpoints by shard, watermarks by source, shard
// assignments), "nodes" and "sessions" (the idempotence records). Map keys
// are sorted, so equal states encode to equal bytes.
const SnapshotVersion = 1

type snapshotFile struct {
	Version int             `json:"version"`
	State   json.RawMessage `json:"state"`
}

// Snapshot encodes the state now (raft.FSM). Raft calls it on the FSM
// goroutine, so no Apply runs meanwhile; the encoding costs about a
// microsecond per partition record and is then written by Persist while
// Apply goes on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := encodeSnapshot(f.st)
	if err != nil {
		return nil, err
	}
	return fsmSnapshot(b), nil
}

func encodeSnapshot(st *state) ([]byte, error) {
	body, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("catalog: encode snapshot: %w", err)
	}
	return json.Marshal(snapshotFile{Version: SnapshotVersion, State: body})
}

// Restore replaces the state with the snapshot read from r (raft.FSM). It
// returns an error wrapping ErrSnapshotVersion for an unknown version and
// ErrCorrupt for undecodable data; the state is unchanged then.
func (f *FSM) Restore(r io.ReadCloser) error {
	defer r.Close()
	var file snapshotFile
	if err := json.NewDecoder(bufio.NewReader(r)).Decode(&file); err != nil {
		return fmt.Errorf("%w: snapshot: %v", ErrCorrupt, err)
	}
	if file.Version != SnapshotVersion {
		return fmt.Errorf("%w: %d (this build reads %d)", ErrSnapshotVersion, file.Version, SnapshotVersion)
	}
	st := newState()
	if err := json.Unmarshal(file.State, st); err != nil {
		return fmt.Errorf("%w: snapshot state: %v", ErrCorrupt, err)
	}
	if st.Pipelines == nil || st.Nodes == nil || st.Sessions == nil {
		st = newState() // "null" tables
	}
	if err := st.check(); err != nil {
		return err
	}
	f.mu.Lock()
	f.st = st
	f.mu.Unlock()
	return nil
}

// Hash returns a 64-bit hash (xxh3) of the whole state, idempotence records
// included: two FSMs with equal hashes hold equal states. For tests and
// diagnostics; it encodes the whole state, so it costs as much as a
// snapshot.
func (f *FSM) Hash() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := json.Marshal(f.st)
	if err != nil {
		return 0
	}
	return xxh3.Hash(b)
}

type fsmSnapshot []byte

// Persist writes the encoded snapshot to sink.
func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release does nothing; the bytes are garbage collected.
func (s fsmSnapshot) Release() {}

// check refuses null entries (which no encoder of this package writes) and
// initializes the maps of every pipeline.
func (s *state) check() error {
	for name, p := range s.Pipelines {
		if p == nil {
			return fmt.Errorf("%w: snapshot: pipeline %q is null", ErrCorrupt, name)
		}
		for id, r := range p.Partitions {
			if r == nil {
				return fmt.Errorf("%w: snapshot: partition %q of %q is null", ErrCorrupt, id, name)
			}
		}
		p.init()
	}
	for id, n := range s.Nodes {
		if n == nil {
			return fmt.Errorf("%w: snapshot: node %q is null", ErrCorrupt, id)
		}
	}
	for id, se := range s.Sessions {
		if se == nil {
			return fmt.Errorf("%w: snapshot: session %q is null", ErrCorrupt, id)
		}
	}
	return nil
}
