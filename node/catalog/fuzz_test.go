package catalog

import (
	"bytes"
	"io"
	"testing"

	"github.com/hashicorp/raft"
)

// FuzzApplyEntry: any log entry bytes either apply or return ErrCorrupt;
// never a panic.
func FuzzApplyEntry(f *testing.F) {
	data, _ := encodeEntry([]Command{NewPartitionDone(rec("p", "a", 1)), NewWatermarkAdvanced("p", "s", 5)})
	f.Add(data)
	f.Add([]byte{entryVersion, '[', '{', '}', ']'})
	f.Fuzz(func(t *testing.T, data []byte) {
		fsm := NewFSM()
		fsm.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: data})
		_ = fsm.Hash()
	})
}

// FuzzRestore: any snapshot bytes either restore or fail without changing
// the state; never a panic.
func FuzzRestore(f *testing.F) {
	fsm := NewFSM()
	fsm.Apply(entry(f, 1, NewPartitionDone(rec("p", "a", 1)), NewShardAssigned("p", 1, "n1")))
	snap, _ := encodeSnapshot(fsm.st)
	f.Add(snap)
	f.Add([]byte(`{"version":1,"state":{"pipelines":{"p":null}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := NewFSM()
		before := g.Hash()
		if err := g.Restore(io.NopCloser(bytes.NewReader(data))); err != nil && g.Hash() != before {
			t.Fatal("failed Restore changed the state")
		}
		_ = g.IsDone("p", "a")
		g.Apply(entry(t, 2, NewPartitionDone(rec("p", "b", 1)), NewCompact(t0)))
		_ = g.Pipelines()
	})
}
