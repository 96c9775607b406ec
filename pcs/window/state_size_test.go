package window_test

import (
	"context"
	"testing"
	"time"

	"github.com/pcs-dev/pcs/pcs/window"
)

// TestStateSize: OpenWindows and Keys describe the state an operator
// holds, and fall to 0 when every window fired (Flush).
func TestStateSize(t *testing.T) {
	ctx := context.Background()
	const h = int64(time.Hour / time.Millisecond)
	// Rows of keys a and b in hours 0 and 1, key a in hour 2.
	ts := []int64{10, 20, h + 10, h + 20, 2*h + 10}
	ks := []string{"a", "b", "a", "b", "a"}
	vals := []int64{1, 1, 1, 1, 1}
	for _, tc := range []struct {
		name          string
		assigner      window.Assigner
		windows, keys int
	}{
		{"tumbling", window.Tumbling(time.Hour, 0), 3, 5},            // 3 hours; 2+2+1 key entries
		{"sliding", window.Sliding(2*time.Hour, time.Hour, 0), 4, 5}, // windows starting at -1h, 0, 1h, 2h; panes of 1h
		{"session", window.Session(10 * time.Minute), 5, 2},          // gaps of an hour: 3 sessions of a, 2 of b
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			spec := sumSpec(tc.assigner)
			spec.Keys = []string{"k"}
			spec.OutOfOrderness = 24 * time.Hour // nothing fires before Flush
			op := mustNew(t, spec, simpleSchema, mem)
			rec := simpleBatch(mem, ts, ks, vals)
			out, err := op.Process(ctx, "s", rec)
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			out.Release()
			if w, k := op.OpenWindows(), op.Keys(); w != tc.windows || k != tc.keys {
				t.Errorf("open windows %d, keys %d; want %d and %d", w, k, tc.windows, tc.keys)
			}
			out, err = op.Flush(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out.Release()
			if w, k := op.OpenWindows(), op.Keys(); w != 0 || k != 0 {
				t.Errorf("after Flush: open windows %d, keys %d; want 0", w, k)
			}
		})
	}
}
