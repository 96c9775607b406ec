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
}

// States returns the plan's state: each pcs.Stateful system's, then the
// window operator's (not with shards: their owners keep the state). None
// for a stateless plan.
func (p *Plan) States() []State {
	var states []State
	if p.pipeline != nil {
		for _, s := range p.pipeline.Systems() {
			if st, ok := s.(pcs.Stateful); ok {
				states = append(states, statefulState(st, p.mem))
			}
		}
	}
	if p.win != nil && p.shards == 0 {
		states = append(states, State{Name: WindowSystem, Save: p.win.Snapshot, Load: p.win.Restore})
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
