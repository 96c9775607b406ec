package ops_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/ops"
	"github.com/pcs-dev/pcs/pcs/state"
	"github.com/pcs-dev/pcs/pcs/state/pebblestate"
)

var tally = pcs.NewDynamicComponent("tally", arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "total_n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "total_x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil))

func runTally(t *testing.T, mem memory.Allocator, js string, ss ...pcs.System) *pcs.Dataset {
	t.Helper()
	ds := newDS(t, mem, tally, js)
	p, err := pcs.NewPipeline("t").Components(tally).Add(ss...).Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestRunningTotals: totals across datasets, nulls, deleted rows, and a
// checkpoint restored into a fresh system continuing the same sums.
func TestRunningTotals(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ints := mustSys(t)(ops.RunningTotals("ints", tally, []string{"k"}, "n", nil, "total_n"))
	floats := mustSys(t)(ops.RunningTotals("floats", tally, []string{"k"}, "x", nil, "total_x"))
	if _, ok := ints.(pcs.Stateful); !ok {
		t.Fatal("RunningTotals is not pcs.Stateful")
	}
	ds := runTally(t, mem, `[{"k":"a","n":1,"x":0.5},{"k":"b","n":2,"x":1},{"k":"a","n":3,"x":null},{"k":null,"n":4,"x":2},{"k":"a","n":null,"x":1}]`, ints, floats)
	col := func(f string) string { a, _ := ds.Column("tally", f); return a.String() }
	if got, want := col("total_n"), "[1 2 4 (null) (null)]"; got != want {
		t.Errorf("total_n = %s, want %s", got, want)
	}
	if got, want := col("total_x"), "[0.5 1 (null) (null) 1.5]"; got != want {
		t.Errorf("total_x = %s, want %s", got, want)
	}
	ds.Release()

	state, err := ints.(pcs.Stateful).Checkpoint(mem)
	if err != nil {
		t.Fatal(err)
	}
	fresh := mustSys(t)(ops.RunningTotals("ints", tally, []string{"k"}, "n", nil, "total_n"))
	if err := fresh.(pcs.Stateful).Restore(state); err != nil {
		t.Fatal(err)
	}
	state.Release()
	ds = runTally(t, mem, `[{"k":"b","n":10},{"k":"c","n":5},{"k":"a","n":1}]`, fresh)
	if got, want := col("total_n"), "[12 5 5]"; got != want {
		t.Errorf("after restore: total_n = %s, want %s", got, want)
	}
	ds.Release()
	got, err := ops.Totals(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "map[a:5 b:12 c:5]" {
		t.Errorf("totals %v", got)
	}
	// A float state does not restore into an integer system.
	fs, err := floats.(pcs.Stateful).Checkpoint(mem)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Release()
	if err := fresh.(pcs.Stateful).Restore(fs); err == nil {
		t.Error("restored a float64 state into an int64 system")
	}
	if _, err := ops.RunningTotals("bad", tally, []string{"k"}, "k", nil, "total_n"); err == nil {
		t.Error("string value accepted")
	}
	if _, err := ops.RunningTotals("bad", tally, []string{"k"}, "n", nil, "total_x"); err == nil {
		t.Error("float64 out for an integer value accepted")
	}
}

// newDS returns a dataset of component c with the JSON rows js.
func newDS(t *testing.T, mem memory.Allocator, c *pcs.DynamicComponent, js string) *pcs.Dataset {
	t.Helper()
	ds := pcs.NewDataset(mem)
	if err := ds.Register(c); err != nil {
		t.Fatal(err)
	}
	rec, _, err := array.RecordFromJSON(mem, c.Schema(), strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if _, err := ds.Append(map[string]arrow.RecordBatch{c.Name(): rec}); err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestRunningTotalsBackends: the same datasets through totals on the
// in-memory and the Pebble backend give equal outputs and totals, and a
// checkpoint of either restores into the other, and the Pebble one's
// files (pcs.StatefulFiles) into another Pebble one.
func TestRunningTotalsBackends(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	type pair struct{ ints, floats pcs.System }
	open := func(t *testing.T, backend string) pair {
		var p pair
		for i, out := range []string{"total_n", "total_x"} {
			var b pcs.StateBackend = state.NewMemory()
			if backend == "pebble" {
				pb, err := pebblestate.Open(t.TempDir(), pebblestate.CacheSize(1<<20))
				if err != nil {
					t.Fatal(err)
				}
				b = pb
			}
			value := []string{"n", "x"}[i]
			s := mustSys(t)(ops.RunningTotalsWith(out, tally, []string{"k"}, value, nil, out, ops.TotalsOptions{State: b}))
			t.Cleanup(func() { s.(io.Closer).Close() })
			if i == 0 {
				p.ints = s
			} else {
				p.floats = s
			}
		}
		return p
	}
	r := rand.New(rand.NewPCG(7, 8))
	batch := func() string {
		var rows []string
		for range 200 {
			k, n, x := fmt.Sprintf("%q", fmt.Sprintf("k%d", r.IntN(300))), fmt.Sprint(r.IntN(100)-50), fmt.Sprint(float64(r.IntN(1000))/8)
			if r.IntN(20) == 0 {
				k = "null"
			}
			if r.IntN(20) == 0 {
				n = "null"
			}
			rows = append(rows, fmt.Sprintf(`{"k":%s,"n":%s,"x":%s}`, k, n, x))
		}
		return "[" + strings.Join(rows, ",") + "]"
	}
	run := func(p pair, js string) string {
		ds := runTally(t, mem, js, p.ints, p.floats)
		defer ds.Release()
		n, _ := ds.Column("tally", "total_n")
		x, _ := ds.Column("tally", "total_x")
		return n.String() + x.String()
	}
	totals := func(p pair) string {
		a, err := ops.Totals(p.ints)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ops.Totals(p.floats)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(a, b)
	}
	move := func(from, to pair) {
		for _, s := range [][2]pcs.System{{from.ints, to.ints}, {from.floats, to.floats}} {
			cp, err := s[0].(pcs.Stateful).Checkpoint(mem)
			if err != nil {
				t.Fatal(err)
			}
			if err := s[1].(pcs.Stateful).Restore(cp); err != nil {
				t.Fatal(err)
			}
			cp.Release()
		}
	}
	m, p := open(t, "memory"), open(t, "pebble")
	for i := range 6 {
		js := batch()
		if got, want := run(p, js), run(m, js); got != want {
			t.Fatalf("batch %d: pebble outputs differ from memory's:\n%s\n%s", i, got, want)
		}
		if got, want := totals(p), totals(m); got != want {
			t.Fatalf("batch %d: pebble totals differ from memory's", i)
		}
		switch i {
		case 2: // pebble's checkpoint into a fresh memory backend
			m = open(t, "memory")
			move(p, m)
		case 3: // pebble's files into a fresh pebble backend
			q := open(t, "pebble")
			moveFiles(t, p.ints, q.ints)
			moveFiles(t, p.floats, q.floats)
			if err := q.ints.(pcs.StatefulFiles).RestoreFiles([]byte("float64"), t.TempDir()); err == nil {
				t.Fatal("float64 files restored into int64 totals")
			}
			p = q
		case 4: // memory's checkpoint into a fresh pebble backend
			p = open(t, "pebble")
			move(m, p)
		}
	}
	if m.ints.(pcs.StatefulFiles).StateFiles() || !p.ints.(pcs.StatefulFiles).StateFiles() {
		t.Error("StateFiles: want false in memory, true in pebble")
	}
}

// moveFiles restores from's state files into to (pcs.StatefulFiles).
func moveFiles(t *testing.T, from, to pcs.System) {
	t.Helper()
	head, dir, err := from.(pcs.StatefulFiles).SnapshotFiles()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := to.(pcs.StatefulFiles).RestoreFiles(head, dir); err != nil {
		t.Fatal(err)
	}
}
