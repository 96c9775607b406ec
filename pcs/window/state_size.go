package window

// OpenWindows returns how many windows hold state: windows not yet fired,
// and fired ones kept for allowed lateness. For tumbling and sliding
// windows it counts the distinct windows that contain a pane with state
// (a sliding window spans size/slide panes); for session windows, the
// sessions kept. Cost: linear in the panes (or sessions) kept.
func (o *Operator) OpenWindows() int {
	if o.session {
		n := 0
		for _, l := range o.sess.list {
			n += len(l)
		}
		return n
	}
	starts := map[int64]struct{}{}
	for ps := range o.panes {
		for ws := o.firstWindowStart(ps); ws <= ps; ws = o.nextWindow(ws) {
			starts[ws] = struct{}{}
		}
	}
	return len(starts)
}

// Keys returns the keyed entries of the state: for tumbling and sliding
// windows, the keys of each pane summed over the panes (a key in two
// panes counts twice: the number of aggregate states held); for session
// windows, the distinct keys with a session. Cost: linear in the panes.
func (o *Operator) Keys() int {
	if o.session {
		n := 0
		for _, l := range o.sess.list {
			if len(l) > 0 {
				n++
			}
		}
		return n
	}
	n := 0
	for _, t := range o.panes {
		n += t.idx.len()
	}
	return n
}
