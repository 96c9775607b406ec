package pcs_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// ---------------------------------------------------------------------------
// A model of a dataset in plain Go slices, and random schemas and rows.

// cell is one value of the model: i holds int64 and timestamp values.
type cell struct {
	null bool
	i    int64
	f    float64
	s    string
	b    bool
}

type compModel struct {
	comp *pcs.DynamicComponent
	cols [][]cell // cols[field][row]
}

func (c *compModel) allNullable() bool {
	for _, f := range c.comp.Schema().Fields() {
		if !f.Nullable {
			return false
		}
	}
	return true
}

type model struct {
	comps []*compModel
	alive []bool
}

func (m *model) rows() int { return len(m.alive) }

func (m *model) live() int {
	n := 0
	for _, a := range m.alive {
		if a {
			n++
		}
	}
	return n
}

// compacted returns the model with only the live rows, in order.
func (m *model) compacted() *model {
	out := &model{}
	for _, c := range m.comps {
		nc := &compModel{comp: c.comp, cols: make([][]cell, len(c.cols))}
		for j, col := range c.cols {
			nc.cols[j] = []cell{}
			for i, v := range col {
				if m.alive[i] {
					nc.cols[j] = append(nc.cols[j], v)
				}
			}
		}
		out.comps = append(out.comps, nc)
	}
	out.alive = make([]bool, m.live())
	for i := range out.alive {
		out.alive[i] = true
	}
	return out
}

var (
	tsUnits = []arrow.TimeUnit{arrow.Second, arrow.Millisecond, arrow.Microsecond, arrow.Nanosecond}
	tsZones = []string{"", "UTC", "Europe/Paris"}
	// field names include ones with the separators the IPC layout uses.
	oddNames = []string{"x.y", "pcs.alive", "a b", "ü", "*", ""}
)

func randomType(r *rand.Rand) arrow.DataType {
	switch r.IntN(5) {
	case 0:
		return arrow.PrimitiveTypes.Int64
	case 1:
		return arrow.PrimitiveTypes.Float64
	case 2:
		return arrow.BinaryTypes.String
	case 3:
		return arrow.FixedWidthTypes.Boolean
	default:
		return &arrow.TimestampType{Unit: tsUnits[r.IntN(len(tsUnits))], TimeZone: tsZones[r.IntN(len(tsZones))]}
	}
}

func randomSchema(r *rand.Rand) *arrow.Schema {
	n := 1 + r.IntN(5)
	fields := make([]arrow.Field, n)
	for j := range fields {
		name := fmt.Sprintf("f%d", j)
		if r.IntN(6) == 0 {
			name = oddNames[r.IntN(len(oddNames))] + fmt.Sprint(j)
		}
		fields[j] = arrow.Field{Name: name, Type: randomType(r), Nullable: r.IntN(2) == 0}
		if r.IntN(5) == 0 {
			fields[j].Metadata = arrow.NewMetadata([]string{"unit", "k"}, []string{"m/s", fmt.Sprint(j)})
		}
	}
	return arrow.NewSchema(fields, nil)
}

const alphabet = "abcXYZ09 _.-é日\x00"

func randomCell(r *rand.Rand, f arrow.Field) cell {
	if f.Nullable && r.IntN(4) == 0 {
		return cell{null: true}
	}
	switch f.Type.ID() {
	case arrow.INT64:
		switch r.IntN(8) {
		case 0:
			return cell{i: math.MinInt64}
		case 1:
			return cell{i: math.MaxInt64}
		}
		return cell{i: r.Int64N(2_000_001) - 1_000_000}
	case arrow.FLOAT64:
		switch r.IntN(10) {
		case 0:
			return cell{f: math.NaN()}
		case 1:
			return cell{f: math.Inf(-1)}
		case 2:
			return cell{f: math.Copysign(0, -1)}
		}
		return cell{f: r.NormFloat64() * 1e6}
	case arrow.STRING:
		rs := []rune(alphabet)
		var sb strings.Builder
		for k := r.IntN(12); k > 0; k-- {
			sb.WriteRune(rs[r.IntN(len(rs))])
		}
		return cell{s: sb.String()}
	case arrow.BOOL:
		return cell{b: r.IntN(2) == 0}
	default: // timestamp
		return cell{i: r.Int64()}
	}
}

func appendCell(b array.Builder, c cell) {
	if c.null {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.Int64Builder:
		b.Append(c.i)
	case *array.Int32Builder:
		b.Append(int32(c.i))
	case *array.Float64Builder:
		b.Append(c.f)
	case *array.StringBuilder:
		b.Append(c.s)
	case *array.BooleanBuilder:
		b.Append(c.b)
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(c.i))
	default:
		panic(fmt.Sprintf("builder %T", b))
	}
}

// buildBatch builds a RecordBatch of schema s holding cols[field][row].
func buildBatch(mem memory.Allocator, s *arrow.Schema, cols [][]cell) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	for j, col := range cols {
		for _, c := range col {
			appendCell(b.Field(j), c)
		}
	}
	return b.NewRecordBatch()
}

// checkColumn compares arr with the model column want, value by value
// (floats by bits, so NaN and -0 count).
func checkColumn(arr arrow.Array, want []cell) error {
	if arr.Len() != len(want) {
		return fmt.Errorf("%d rows, want %d", arr.Len(), len(want))
	}
	for i, w := range want {
		if arr.IsNull(i) != w.null {
			return fmt.Errorf("row %d: null=%v, want %v", i, arr.IsNull(i), w.null)
		}
		if w.null {
			continue
		}
		ok := true
		switch a := arr.(type) {
		case *array.Int64:
			ok = a.Value(i) == w.i
		case *array.Float64:
			ok = math.Float64bits(a.Value(i)) == math.Float64bits(w.f)
		case *array.String:
			ok = a.Value(i) == w.s
		case *array.Boolean:
			ok = a.Value(i) == w.b
		case *array.Timestamp:
			ok = int64(a.Value(i)) == w.i
		default:
			return fmt.Errorf("unexpected array %T", arr)
		}
		if !ok {
			return fmt.Errorf("row %d: got %v, want %+v", i, arr.ValueStr(i), w)
		}
	}
	return nil
}

// checkDataset compares every observable part of ds with m: components in
// order, schemas, every column's values, Len, Live, Alive, AliveMask and
// ShouldCompact.
func checkDataset(t testing.TB, where string, ds *pcs.Dataset, m *model) {
	t.Helper()
	var names []string
	for _, c := range m.comps {
		names = append(names, c.comp.Name())
	}
	if got := ds.Components(); !slices.Equal(got, names) {
		t.Fatalf("%s: components %q, want %q", where, got, names)
	}
	if ds.Len() != m.rows() || ds.Live() != m.live() {
		t.Fatalf("%s: Len %d Live %d, want %d %d", where, ds.Len(), ds.Live(), m.rows(), m.live())
	}
	for _, c := range m.comps {
		s, err := ds.Schema(c.comp.Name())
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if !s.Equal(c.comp.Schema()) {
			t.Fatalf("%s: component %q schema\n%s\nwant\n%s", where, c.comp.Name(), s, c.comp.Schema())
		}
		for j, f := range s.Fields() {
			col, err := ds.Column(c.comp.Name(), f.Name)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if err := checkColumn(col, c.cols[j]); err != nil {
				t.Fatalf("%s: %s.%s: %v", where, c.comp.Name(), f.Name, err)
			}
		}
	}
	for i := -1; i <= m.rows(); i++ {
		want := i >= 0 && i < m.rows() && m.alive[i]
		if ds.Alive(i) != want {
			t.Fatalf("%s: Alive(%d) = %v, want %v", where, i, ds.Alive(i), want)
		}
	}
	mask := ds.AliveMask()
	defer mask.Release()
	if mask.Len() != m.rows() || mask.NullN() != 0 {
		t.Fatalf("%s: AliveMask has %d rows, %d nulls", where, mask.Len(), mask.NullN())
	}
	for i, a := range m.alive {
		if mask.Value(i) != a {
			t.Fatalf("%s: AliveMask[%d] = %v, want %v", where, i, mask.Value(i), a)
		}
	}
	deleted := m.rows() - m.live()
	// Documented heuristic: worth it when at least a quarter of the rows are deleted.
	want := deleted > 0 && float64(deleted) >= float64(m.rows())/4
	if ds.ShouldCompact() != want {
		t.Fatalf("%s: ShouldCompact = %v with %d of %d deleted", where, ds.ShouldCompact(), deleted, m.rows())
	}
}

// randomDataset builds a dataset of random components by a random series
// of appends (some components left out, so they get nulls) and deletes,
// checking each step against the model. The caller releases ds.
func randomDataset(t testing.TB, mem memory.Allocator, seed uint64) (*pcs.Dataset, *model) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	m := &model{}
	ds := pcs.NewDataset(mem)
	ncomp := 1 + r.IntN(4)
	for k := 0; k < ncomp; k++ {
		comp := pcs.NewDynamicComponent(fmt.Sprintf("c%d", k), randomSchema(r))
		m.comps = append(m.comps, &compModel{comp: comp, cols: make([][]cell, comp.Schema().NumFields())})
		if err := ds.Register(comp); err != nil {
			t.Fatalf("seed %d: Register: %v", seed, err)
		}
	}
	for step, steps := 0, 1+r.IntN(8); step < steps; step++ {
		where := fmt.Sprintf("seed %d step %d", seed, step)
		if r.IntN(3) < 2 || m.rows() == 0 {
			n := r.IntN(40)
			if r.IntN(8) == 0 {
				n = 0
			}
			batches := map[string]arrow.RecordBatch{}
			for _, c := range m.comps {
				fields := c.comp.Schema().Fields()
				cols := make([][]cell, len(fields))
				omit := c.allNullable() && r.IntN(3) == 0
				for j, f := range fields {
					for range n {
						v := cell{null: true}
						if !omit {
							v = randomCell(r, f)
						}
						cols[j] = append(cols[j], v)
					}
				}
				if !omit {
					batches[c.comp.Name()] = buildBatch(mem, c.comp.Schema(), cols)
				}
				for j := range cols {
					c.cols[j] = append(c.cols[j], cols[j]...)
				}
			}
			lo := m.rows()
			want := pcs.RowRange{Lo: lo, Hi: lo + n}
			if len(batches) == 0 {
				// Nothing says how many rows: nothing is appended.
				want = pcs.RowRange{Lo: lo, Hi: lo}
				for _, c := range m.comps {
					for j := range c.cols {
						c.cols[j] = c.cols[j][:lo]
					}
				}
			}
			got, err := ds.Append(batches)
			for _, b := range batches {
				b.Release()
			}
			if err != nil || got != want || got.Len() != want.Hi-want.Lo {
				t.Fatalf("%s: Append = %v, %v; want %v", where, got, err, want)
			}
			for range want.Len() {
				m.alive = append(m.alive, true)
			}
		} else {
			for k := r.IntN(m.rows() + 1); k > 0; k-- {
				i := r.IntN(m.rows())
				if err := ds.Delete(i); err != nil {
					t.Fatalf("%s: Delete(%d): %v", where, i, err)
				}
				m.alive[i] = false
			}
			if ds.Delete(-1) == nil || ds.Delete(m.rows()) == nil {
				t.Fatalf("%s: Delete out of range did not fail", where)
			}
		}
		checkDataset(t, where, ds, m)
	}
	return ds, m
}

const propertySeeds = 250

// ---------------------------------------------------------------------------
// Property tests.

func TestDatasetPropertyAppendDelete(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for seed := uint64(0); seed < propertySeeds; seed++ {
		ds, _ := randomDataset(t, mem, seed)
		ds.Release()
	}
}

func TestDatasetPropertyCompact(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	for seed := uint64(0); seed < propertySeeds; seed++ {
		ds, m := randomDataset(t, mem, seed)
		where := fmt.Sprintf("seed %d", seed)

		// Compact a clone: the original must not change.
		cl := ds.Clone()
		checkDataset(t, where+" clone", cl, m)
		if err := cl.Compact(ctx); err != nil {
			t.Fatalf("%s: Compact: %v", where, err)
		}
		cm := m.compacted()
		checkDataset(t, where+" compacted clone", cl, cm)
		checkDataset(t, where+" original after clone compacted", ds, m)

		// Deleting in the clone leaves the original alone, and vice versa.
		if cl.Len() > 0 {
			if err := cl.Delete(0); err != nil {
				t.Fatal(err)
			}
			cm.alive[0] = false
			checkDataset(t, where+" clone after delete", cl, cm)
			checkDataset(t, where+" original after clone delete", ds, m)
		}
		if ds.Len() > 0 {
			last := ds.Len() - 1
			if err := ds.Delete(last); err != nil {
				t.Fatal(err)
			}
			m.alive[last] = false
			checkDataset(t, where+" clone after original delete", cl, cm)
		}

		// Compact the original, then grow it: rows are renumbered from 0.
		if err := ds.Compact(ctx); err != nil {
			t.Fatalf("%s: Compact: %v", where, err)
		}
		m = m.compacted()
		checkDataset(t, where+" compacted", ds, m)
		if err := ds.Compact(ctx); err != nil { // nothing deleted: no-op
			t.Fatal(err)
		}
		checkDataset(t, where+" compacted twice", ds, m)
		r := rand.New(rand.NewPCG(seed, 1))
		c := m.comps[0]
		cols := make([][]cell, len(c.cols))
		for j, f := range c.comp.Schema().Fields() {
			cols[j] = []cell{randomCell(r, f), randomCell(r, f)}
		}
		b := buildBatch(mem, c.comp.Schema(), cols)
		rest := map[string]arrow.RecordBatch{c.comp.Name(): b}
		for _, o := range m.comps[1:] {
			ocols := make([][]cell, len(o.cols))
			for j, f := range o.comp.Schema().Fields() {
				ocols[j] = []cell{randomCell(r, f), randomCell(r, f)}
			}
			rest[o.comp.Name()] = buildBatch(mem, o.comp.Schema(), ocols)
			for j := range o.cols {
				o.cols[j] = append(o.cols[j], ocols[j]...)
			}
		}
		for j := range c.cols {
			c.cols[j] = append(c.cols[j], cols[j]...)
		}
		rr, err := ds.Append(rest)
		for _, b := range rest {
			b.Release()
		}
		if err != nil || rr != (pcs.RowRange{Lo: m.rows(), Hi: m.rows() + 2}) {
			t.Fatalf("%s: Append after Compact = %v, %v", where, rr, err)
		}
		m.alive = append(m.alive, true, true)
		checkDataset(t, where+" append after compact", ds, m)

		ds.Release()
		checkDataset(t, where+" clone after original released", cl, cm)
		cl.Release()
	}
}

// ---------------------------------------------------------------------------
// Append, Register and the other Dataset methods.

type posComp struct {
	X int64   `arrow:"x"`
	Y float64 `arrow:"y"`
}

type labelComp struct {
	Label *string `arrow:"label"`
	Score *int64  `arrow:"score"`
}

func TestDatasetAppendMissingComponent(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pos := pcs.MustComponent[posComp]("pos")
	lab := pcs.MustComponent[labelComp]("label")
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := ds.Register(pos, lab); err != nil {
		t.Fatal(err)
	}
	// Missing "label" has only nullable fields: it gets nulls.
	r, err := pcs.AppendRows(ds, pos, []posComp{{1, 1.5}, {2, 2.5}, {3, 3.5}})
	if err != nil || r != (pcs.RowRange{Lo: 0, Hi: 3}) {
		t.Fatalf("AppendRows = %v, %v", r, err)
	}
	r, err = pcs.AppendRows(ds, pos, []posComp{{4, 4.5}})
	if err != nil || r != (pcs.RowRange{Lo: 3, Hi: 4}) {
		t.Fatalf("second AppendRows = %v, %v", r, err)
	}
	for _, f := range []string{"label", "score"} {
		col, err := ds.Column("label", f)
		if err != nil {
			t.Fatal(err)
		}
		if col.Len() != 4 || col.NullN() != 4 {
			t.Errorf("label.%s: %d rows, %d nulls; want 4 nulls", f, col.Len(), col.NullN())
		}
	}
	xs, _ := ds.Column("pos", "x")
	if got := xs.(*array.Int64).Int64Values(); !slices.Equal(got, []int64{1, 2, 3, 4}) {
		t.Errorf("pos.x = %v", got)
	}

	// Missing "pos" has non-nullable fields: they get zero values.
	r, err = pcs.AppendRows(ds, lab, []labelComp{{Label: ptr("a")}})
	if err != nil || r != (pcs.RowRange{Lo: 4, Hi: 5}) {
		t.Fatalf("AppendRows(label) without pos = %v, %v", r, err)
	}
	xs, _ = ds.Column("pos", "x")
	if xs.NullN() != 0 || xs.(*array.Int64).Value(4) != 0 {
		t.Errorf("pos.x of the label-only row: %v, want a non-null 0", xs)
	}
	// A non-nullable type with no zero value (a list) is refused, and
	// nothing is appended.
	listy := pcs.NewDynamicComponent("listy", arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil))
	other := pcs.NewDataset(mem)
	defer other.Release()
	if err := other.Register(pos, listy); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, other)
	defer before.release()
	if _, err := pcs.AppendRows(other, pos, []posComp{{1, 1}}); !errors.Is(err, pcs.ErrSchemaMismatch) || !strings.Contains(err.Error(), "listy") {
		t.Errorf("err = %v, want ErrSchemaMismatch naming listy", err)
	}
	sameSnapshot(t, "after failed append", other, before)

	// Both present: fine, and the values land in the right rows.
	pb, err := pos.Batch(mem, []posComp{{5, 5.5}})
	if err != nil {
		t.Fatal(err)
	}
	defer pb.Release()
	lb, err := lab.Batch(mem, []labelComp{{Label: ptr("five"), Score: ptr(int64(50))}})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Release()
	if r, err = ds.Append(map[string]arrow.RecordBatch{"pos": pb, "label": lb}); err != nil || r != (pcs.RowRange{Lo: 5, Hi: 6}) {
		t.Fatalf("Append both = %v, %v", r, err)
	}
	labels, _ := ds.Column("label", "label")
	if l := labels.(*array.String); l.Len() != 6 || !l.IsNull(3) || l.Value(4) != "a" || l.IsNull(5) || l.Value(5) != "five" {
		t.Errorf("label.label = %v", l)
	}
}

// snapshot copies what a dataset holds, for "nothing changed" checks.
type dsSnapshot struct {
	len, live int
	alive     []bool
	batches   map[string]arrow.RecordBatch
}

func snapshot(t *testing.T, ds *pcs.Dataset) *dsSnapshot {
	t.Helper()
	s := &dsSnapshot{len: ds.Len(), live: ds.Live(), batches: map[string]arrow.RecordBatch{}}
	for i := 0; i < ds.Len(); i++ {
		s.alive = append(s.alive, ds.Alive(i))
	}
	for _, c := range ds.Components() {
		b, err := ds.Batch(c)
		if err != nil {
			t.Fatal(err)
		}
		s.batches[c] = b
	}
	return s
}

func (s *dsSnapshot) release() {
	for _, b := range s.batches {
		b.Release()
	}
}

func sameSnapshot(t *testing.T, where string, ds *pcs.Dataset, s *dsSnapshot) {
	t.Helper()
	if ds.Len() != s.len || ds.Live() != s.live || len(ds.Components()) != len(s.batches) {
		t.Fatalf("%s: Len %d Live %d comps %d, want %d %d %d", where, ds.Len(), ds.Live(), len(ds.Components()), s.len, s.live, len(s.batches))
	}
	for i, a := range s.alive {
		if ds.Alive(i) != a {
			t.Fatalf("%s: Alive(%d) changed", where, i)
		}
	}
	for c, want := range s.batches {
		got, err := ds.Batch(c)
		if err != nil {
			t.Fatal(err)
		}
		eq := array.RecordEqual(got, want)
		got.Release()
		if !eq {
			t.Fatalf("%s: component %s changed", where, c)
		}
	}
}

func TestDatasetAppendErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pos := pcs.MustComponent[posComp]("pos")
	lab := pcs.MustComponent[labelComp]("label")
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := ds.Register(pos, lab); err != nil {
		t.Fatal(err)
	}
	if _, err := pcs.AppendRows(ds, pos, []posComp{{1, 1}, {2, 2}, {3, 3}}); err != nil {
		t.Fatal(err)
	}
	if err := ds.Delete(1); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, ds)
	defer before.release()

	pos2, err := pos.Batch(mem, []posComp{{7, 7}, {8, 8}})
	if err != nil {
		t.Fatal(err)
	}
	defer pos2.Release()
	lab3, err := lab.Batch(mem, []labelComp{{}, {}, {}})
	if err != nil {
		t.Fatal(err)
	}
	defer lab3.Release()

	// Batches whose schema differs from the registered one: other type,
	// other nullability, other name, other field metadata, other count.
	wrong := map[string]*arrow.Schema{
		"type": arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int32}, {Name: "y", Type: arrow.PrimitiveTypes.Float64}}, nil),
		"nullable": arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			{Name: "y", Type: arrow.PrimitiveTypes.Float64}}, nil),
		"name": arrow.NewSchema([]arrow.Field{{Name: "X", Type: arrow.PrimitiveTypes.Int64}, {Name: "y", Type: arrow.PrimitiveTypes.Float64}}, nil),
		"metadata": arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64,
			Metadata: arrow.NewMetadata([]string{"k"}, []string{"v"})}, {Name: "y", Type: arrow.PrimitiveTypes.Float64}}, nil),
		"count": arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil),
	}
	for what, s := range wrong {
		cols := make([][]cell, s.NumFields())
		for j := range cols {
			cols[j] = []cell{{}, {}}
		}
		b := buildBatch(mem, s, cols)
		_, err := ds.Append(map[string]arrow.RecordBatch{"pos": b})
		b.Release()
		if !errors.Is(err, pcs.ErrSchemaMismatch) {
			t.Errorf("batch with other %s: err = %v, want ErrSchemaMismatch", what, err)
		}
		sameSnapshot(t, "after schema mismatch ("+what+")", ds, before)
	}

	_, err = ds.Append(map[string]arrow.RecordBatch{"pos": pos2, "label": lab3})
	if !errors.Is(err, pcs.ErrRowCount) {
		t.Errorf("2 + 3 rows: err = %v, want ErrRowCount", err)
	}
	sameSnapshot(t, "after row count mismatch", ds, before)

	_, err = ds.Append(map[string]arrow.RecordBatch{"pos": pos2, "velocity": pos2})
	if !errors.Is(err, pcs.ErrUnknownComponent) || !strings.Contains(err.Error(), "velocity") {
		t.Errorf("unknown component: err = %v, want ErrUnknownComponent naming it", err)
	}
	sameSnapshot(t, "after unknown component", ds, before)

	// The dataset still works after the errors; the alive bitmap grows.
	r, err := ds.Append(map[string]arrow.RecordBatch{"pos": pos2})
	if err != nil || r != (pcs.RowRange{Lo: 3, Hi: 5}) {
		t.Fatalf("Append = %v, %v", r, err)
	}
	if ds.Live() != 4 || ds.Alive(1) || !ds.Alive(3) || !ds.Alive(4) {
		t.Errorf("after append: Live %d, Alive 1/3/4 = %v %v %v", ds.Live(), ds.Alive(1), ds.Alive(3), ds.Alive(4))
	}

	// An empty batch map or empty batches append nothing.
	if r, err := ds.Append(nil); err != nil || r != (pcs.RowRange{Lo: 5, Hi: 5}) {
		t.Errorf("Append(nil) = %v, %v", r, err)
	}
	empty, err := pos.Batch(mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Release()
	if r, err := ds.Append(map[string]arrow.RecordBatch{"pos": empty}); err != nil || r != (pcs.RowRange{Lo: 5, Hi: 5}) || ds.Len() != 5 {
		t.Errorf("Append(0 rows) = %v, %v; Len %d", r, err, ds.Len())
	}
}

// Append retains the caller's batches rather than taking them over, and
// the first append into an empty dataset shares them (no copy).
func TestDatasetAppendOwnership(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pos := pcs.MustComponent[posComp]("pos")
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := ds.Register(pos); err != nil {
		t.Fatal(err)
	}
	b, err := pos.Batch(mem, []posComp{{1, 2}, {3, 4}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Append(map[string]arrow.RecordBatch{"pos": b}); err != nil {
		t.Fatal(err)
	}
	b.Release() // ours; the dataset still holds the columns
	ys, err := ds.Column("pos", "y")
	if err != nil {
		t.Fatal(err)
	}
	if got := ys.(*array.Float64).Float64Values(); !slices.Equal(got, []float64{2, 4}) {
		t.Fatalf("pos.y = %v", got)
	}
}

func TestDatasetRegister(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pos := pcs.MustComponent[posComp]("pos")
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := ds.Register(pos, pos); err != nil {
		t.Fatal(err)
	}
	if err := ds.Register(pcs.NewDynamicComponent("pos", pos.Schema())); err != nil {
		t.Errorf("re-registering an equal schema: %v", err)
	}
	if got := ds.Components(); !slices.Equal(got, []string{"pos"}) {
		t.Fatalf("components %v", got)
	}
	other := pcs.NewDynamicComponent("pos", arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil))
	if err := ds.Register(other); !errors.Is(err, pcs.ErrSchemaMismatch) {
		t.Errorf("re-registering another schema: err = %v, want ErrSchemaMismatch", err)
	}
	if s, _ := ds.Schema("pos"); !s.Equal(pos.Schema()) {
		t.Errorf("schema replaced by a failed Register: %s", s)
	}
	if _, err := ds.Schema("nope"); !errors.Is(err, pcs.ErrUnknownComponent) {
		t.Errorf("Schema(nope) err = %v", err)
	}

	if _, err := pcs.AppendRows(ds, pos, []posComp{{1, 1}, {2, 2}}); err != nil {
		t.Fatal(err)
	}
	// Registered late: a nullable component gets null rows, a
	// non-nullable one zero values, one with no zero value is refused.
	lab := pcs.MustComponent[labelComp]("label")
	if err := ds.Register(lab); err != nil {
		t.Fatal(err)
	}
	col, err := ds.Column("label", "score")
	if err != nil || col.Len() != 2 || col.NullN() != 2 {
		t.Fatalf("late nullable component: %v, %v", col, err)
	}
	strict := pcs.NewDynamicComponent("strict", arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil))
	if err := ds.Register(strict); err != nil {
		t.Fatal(err)
	}
	if col, err := ds.Column("strict", "v"); err != nil || col.NullN() != 0 || col.(*array.Int64).Value(1) != 0 {
		t.Fatalf("late non-nullable component: %v, %v", col, err)
	}
	listy := pcs.NewDynamicComponent("listy", arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil))
	if err := ds.Register(listy); !errors.Is(err, pcs.ErrSchemaMismatch) {
		t.Errorf("late list component: err = %v, want ErrSchemaMismatch", err)
	}
	if got := ds.Components(); !slices.Equal(got, []string{"pos", "label", "strict"}) {
		t.Errorf("components %v after refused Register", got)
	}
}

func TestDatasetShouldCompact(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pos := pcs.MustComponent[posComp]("pos")
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if ds.ShouldCompact() {
		t.Error("empty dataset should not compact")
	}
	rows := make([]posComp, 100)
	if err := ds.Register(pos); err != nil {
		t.Fatal(err)
	}
	if _, err := pcs.AppendRows(ds, pos, rows); err != nil {
		t.Fatal(err)
	}
	if ds.ShouldCompact() {
		t.Error("ShouldCompact with nothing deleted")
	}
	for i := 0; i < 24; i++ {
		_ = ds.Delete(i * 4)
		_ = ds.Delete(i * 4) // deleting twice counts once
	}
	if ds.Live() != 76 || ds.ShouldCompact() {
		t.Errorf("24%% deleted: Live %d, ShouldCompact %v", ds.Live(), ds.ShouldCompact())
	}
	_ = ds.Delete(99)
	if ds.Live() != 75 || !ds.ShouldCompact() {
		t.Errorf("25%% deleted: Live %d, ShouldCompact %v", ds.Live(), ds.ShouldCompact())
	}
	// Appending live rows dilutes the ratio.
	if _, err := pcs.AppendRows(ds, pos, rows[:4]); err != nil {
		t.Fatal(err)
	}
	if ds.ShouldCompact() {
		t.Errorf("25 of 104 deleted: ShouldCompact true")
	}
	if err := ds.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 79 || ds.Live() != 79 || ds.ShouldCompact() {
		t.Errorf("after Compact: Len %d Live %d ShouldCompact %v", ds.Len(), ds.Live(), ds.ShouldCompact())
	}
}

func TestDatasetCompactAllDeleted(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pos := pcs.MustComponent[posComp]("pos")
	lab := pcs.MustComponent[labelComp]("label")
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := ds.Register(pos, lab); err != nil {
		t.Fatal(err)
	}
	if _, err := pcs.AppendRows(ds, pos, []posComp{{1, 1}, {2, 2}}); err != nil {
		t.Fatal(err)
	}
	_ = ds.Delete(0)
	_ = ds.Delete(1)
	if err := ds.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 0 || ds.Live() != 0 || ds.Alive(0) {
		t.Fatalf("after compacting everything: Len %d Live %d", ds.Len(), ds.Live())
	}
	for _, c := range []string{"pos", "label"} {
		b, err := ds.Batch(c)
		if err != nil {
			t.Fatal(err)
		}
		if b.NumRows() != 0 || b.NumCols() != 2 {
			t.Errorf("%s: %d rows %d cols", c, b.NumRows(), b.NumCols())
		}
		b.Release()
	}
	if r, err := pcs.AppendRows(ds, pos, []posComp{{9, 9}}); err != nil || r != (pcs.RowRange{Lo: 0, Hi: 1}) || !ds.Alive(0) {
		t.Fatalf("append after compacting everything: %v, %v", r, err)
	}
}

func TestDatasetBatchColumnAndMask(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pos := pcs.MustComponent[posComp]("pos")
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := ds.Register(pos); err != nil {
		t.Fatal(err)
	}
	rows := []posComp{{1, 10}, {2, 20}, {3, 30}}
	if _, err := pcs.AppendRows(ds, pos, rows); err != nil {
		t.Fatal(err)
	}
	_ = ds.Delete(1)
	b, err := ds.Batch("pos")
	if err != nil {
		t.Fatal(err)
	}
	// Batch keeps deleted rows, and is independent of later dataset changes.
	got, err := pos.Rows(b)
	if err != nil || !slices.Equal(got, rows) {
		t.Fatalf("Batch rows %v, %v; want %v", got, err, rows)
	}
	if err := ds.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b.NumRows() != 3 || b.Column(0).(*array.Int64).Value(2) != 3 {
		t.Errorf("batch changed after Compact")
	}
	b.Release()
	b, err = ds.Batch("pos")
	if err != nil {
		t.Fatal(err)
	}
	got, _ = pos.Rows(b)
	b.Release()
	if !slices.Equal(got, []posComp{{1, 10}, {3, 30}}) {
		t.Errorf("after Compact: %v", got)
	}
	if _, err := ds.Batch("nope"); !errors.Is(err, pcs.ErrUnknownComponent) {
		t.Errorf("Batch(nope) err = %v", err)
	}
	if _, err := ds.Column("nope", "x"); !errors.Is(err, pcs.ErrUnknownComponent) {
		t.Errorf("Column(nope, x) err = %v", err)
	}
	if _, err := ds.Column("pos", "z"); !errors.Is(err, pcs.ErrUnknownField) ||
		!strings.Contains(err.Error(), "pos") || !strings.Contains(err.Error(), `"z"`) {
		t.Errorf("Column(pos, z) err = %v", err)
	}
	// AliveMask is a copy: later deletes do not show in it.
	mask := ds.AliveMask()
	defer mask.Release()
	_ = ds.Delete(0)
	if !mask.Value(0) || ds.Alive(0) {
		t.Errorf("AliveMask shares the dataset's bitmap")
	}
}

func TestDatasetCloneIndependence(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pos := pcs.MustComponent[posComp]("pos")
	y := pcs.MustField[*array.Float64](pos, "y")
	ds := pcs.NewDataset(mem)
	if err := ds.Register(pos); err != nil {
		t.Fatal(err)
	}
	if _, err := pcs.AppendRows(ds, pos, []posComp{{1, 10}, {2, 20}, {3, 30}}); err != nil {
		t.Fatal(err)
	}
	_ = ds.Delete(2)
	cl := ds.Clone()
	if cl.Len() != 3 || cl.Live() != 2 || cl.Alive(2) || cl.Allocator() != ds.Allocator() {
		t.Fatalf("clone: Len %d Live %d", cl.Len(), cl.Live())
	}
	// Columns are shared, not copied.
	a, _ := ds.Column("pos", "x")
	b, _ := cl.Column("pos", "x")
	if a != b {
		t.Error("Clone copied a column")
	}
	_ = cl.Delete(0)
	if !ds.Alive(0) || ds.Live() != 2 || cl.Live() != 1 {
		t.Errorf("delete in clone: original Alive(0)=%v Live %d, clone Live %d", ds.Alive(0), ds.Live(), cl.Live())
	}
	bld := array.NewFloat64Builder(mem)
	bld.AppendValues([]float64{-1, -2, -3}, nil)
	neg := bld.NewFloat64Array()
	bld.Release()
	if err := y.Set(cl, neg); err != nil {
		t.Fatal(err)
	}
	neg.Release()
	orig, _ := y.Get(ds)
	if !slices.Equal(orig.Float64Values(), []float64{10, 20, 30}) {
		t.Errorf("Set in clone changed the original: %v", orig.Float64Values())
	}
	if _, err := pcs.AppendRows(cl, pos, []posComp{{4, 40}}); err != nil || ds.Len() != 3 || cl.Len() != 4 {
		t.Errorf("append in clone: %v; Len %d / %d", err, ds.Len(), cl.Len())
	}
	// Releasing the original first leaves the clone's shared columns valid.
	ds.Release()
	xs, err := cl.Column("pos", "x")
	if err != nil || !slices.Equal(xs.(*array.Int64).Int64Values(), []int64{1, 2, 3, 4}) {
		t.Errorf("clone after original released: %v, %v", xs, err)
	}
	cl.Release()
}

func TestDatasetRelease(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	if pcs.NewDataset(nil).Allocator() == nil {
		t.Error("NewDataset(nil) has no allocator")
	}
	for seed := uint64(0); seed < 20; seed++ {
		ds, m := randomDataset(t, mem, seed)
		if ds.Len() == 0 {
			ds.Release()
			continue
		}
		if mem.CurrentAlloc() == 0 {
			t.Fatal("dataset allocated nothing from mem")
		}
		cl := ds.Clone()
		ds.Release()
		if mem.CurrentAlloc() == 0 {
			t.Fatal("releasing the original freed the clone's shared columns")
		}
		checkDataset(t, "clone of a released dataset", cl, m)
		cl.Release()
		if n := mem.CurrentAlloc(); n != 0 {
			t.Fatalf("seed %d: %d bytes still allocated after Release", seed, n)
		}
	}
}
