package plan

import (
	"bytes"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// State is one piece of a plan's state that must survive a crash: a
// stateful system's (pcs.Stateful) or the window operator's. pcs-node
// checkpoints every State of a plan together (package node); Save and
// Load must not run concurrently with Step.
type State struct {
	// Name is the system's name ("window" for the window operator).
	Name string
	// Save returns a copy of the state as bytes (a Dataset IPC file for
	// stateful systems, window.Operator.Snapshot for the window).
	Save func() ([]byte, error)
	// Load replaces the state with one Save returned.
	Load func([]byte) error
	// SaveFiles, if not nil, is the state's incremental form (state in
	// a Pebble backend, pcs.StateFiles: the window's, or a system's
	// through pcs.StatefulFiles): it copies the
	// state as files into a new directory, dir (the caller's, to remove),
	// and returns the rest as head. A runtime that stores checkpoints
	// (pcs-node) then stores only the files it has not stored before.
	SaveFiles func() (head []byte, dir string, err error)
	// LoadFiles replaces the state with one SaveFiles returned (dir, or a
	// copy of its files, stays the caller's). Set with SaveFiles.
	LoadFiles func(head []byte, dir string) error
}

// States returns the plan's state: each pcs.Stateful system's, then the
// window operator's (not with shards: their owners keep the state). None
// for a stateless plan.
func (p *Plan) States() []State {
	var states []State
	if p.pipeline != nil {
		for _, s := range p.pipeline.Systems() {
			if st, ok := s.(pcs.Stateful); ok {
				state := statefulState(st, p.mem)
				if f, ok := s.(pcs.StatefulFiles); ok {
					withFiles(&state, f)
				}
				states = append(states, state)
			}
		}
	}
	if p.win != nil && p.shards == 0 {
		st := State{Name: WindowSystem, Save: p.win.Snapshot, Load: p.win.Restore}
		withFiles(&st, p.win)
		states = append(states, st)
	}
	return states
}

// statefulState checkpoints a pcs.Stateful system as a Dataset IPC file.
func statefulState(s pcs.Stateful, mem memory.Allocator) State {
	return State{
		Name: s.Meta().Name,
		Save: func() ([]byte, error) {
			ds, err := s.Checkpoint(mem)
			if err != nil {
				return nil, err
			}
			defer ds.Release()
			var buf bytes.Buffer
			err = ds.WriteIPC(&buf)
			return buf.Bytes(), err
		},
		Load: func(b []byte) error {
			ds, err := pcs.ReadIPC(b, mem)
			if err != nil {
				return err
			}
			defer ds.Release()
			return s.Restore(ds)
		},
	}
}

// fileStater keeps its state as files when StateFiles says so
// (pcs.StatefulFiles, window.Operator).
type fileStater interface {
	StateFiles() bool
	SnapshotFiles() (head []byte, dir string, err error)
	RestoreFiles(head []byte, dir string) error
}

// withFiles sets st's SaveFiles and LoadFiles from f if f keeps its state
// as files.
func withFiles(st *State, f fileStater) {
	if f.StateFiles() {
		st.SaveFiles, st.LoadFiles = f.SnapshotFiles, f.RestoreFiles
	}
}
