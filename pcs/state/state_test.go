package state_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/state"
	"github.com/pcs-dev/pcs/pcs/state/statetest"
)

func TestMemory(t *testing.T) {
	statetest.TestBackend(t, func(*testing.T) pcs.StateBackend { return state.NewMemory() }, statetest.Options{})
}

// FuzzReadSnapshot: no input panics or allocates without bound, and a
// snapshot that reads re-encodes to the same bytes.
func FuzzReadSnapshot(f *testing.F) {
	var buf bytes.Buffer
	b := state.NewMemory()
	b.Put([]byte("a"), []byte("1"))
	b.Put([]byte("b"), nil)
	b.Snapshot(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte("PCSSTAT1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		w := state.NewSnapshotWriter(&out)
		err := state.ReadSnapshot(bytes.NewReader(data), w.Add)
		if err != nil {
			if !errors.Is(err, state.ErrSnapshot) {
				t.Fatalf("error %v does not wrap ErrSnapshot", err)
			}
			return
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatal("a valid snapshot re-encodes differently")
		}
	})
}
