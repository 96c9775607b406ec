package pcs_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

type point struct {
	X int64   `arrow:"x"`
	Y int64   `arrow:"y"`
	Z float64 `arrow:"z"`
}

var (
	points = pcs.MustComponent[point]("point")
	px     = pcs.MustField[*array.Int64](points, "x")
	py     = pcs.MustField[*array.Int64](points, "y")
	pz     = pcs.MustField[*array.Float64](points, "z")
)

type resA struct{ N int }
type resB struct{ N int }

// newPoints returns a dataset of n points with x = i, y = 0, z = 0.
func newPoints(t testing.TB, mem memory.Allocator, n int) *pcs.Dataset {
	t.Helper()
	ds := pcs.NewDataset(mem)
	if err := ds.Register(points); err != nil {
		t.Fatal(err)
	}
	rows := make([]point, n)
	for i := range rows {
		rows[i].X = int64(i)
	}
	if _, err := pcs.AppendRows(ds, points, rows); err != nil {
		t.Fatal(err)
	}
	return ds
}

func int64s(mem memory.Allocator, vals ...int64) *array.Int64 {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(vals, nil)
	return b.NewInt64Array()
}

// fill returns a system that sets field f to v on every row.
func fill(name string, f pcs.FieldRef[*array.Int64], v int64, reads ...pcs.Ref) pcs.System {
	return pcs.SystemFunc(pcs.Meta(name).Read(reads...).Write(f), func(ctx context.Context, ds *pcs.Dataset) error {
		vals := make([]int64, ds.Len())
		for i := range vals {
			vals[i] = v
		}
		arr := int64s(ds.Allocator(), vals...)
		defer arr.Release()
		return f.Set(ds, arr)
	})
}

func noop(meta pcs.SystemMeta) pcs.System {
	return pcs.SystemFunc(meta, func(context.Context, *pcs.Dataset) error { return nil })
}

func mustBuild(t *testing.T, b *pcs.PipelineBuilder) *pcs.Pipeline {
	t.Helper()
	p, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStagesFollowFieldDAG(t *testing.T) {
	type fx struct{}
	type summary struct{}
	tests := []struct {
		name    string
		systems []pcs.System
		want    [][]string
	}{
		{"etl: disjoint writers share a stage, whole-component reader follows",
			[]pcs.System{
				noop(pcs.Meta("validate").Read(px).Write(py)),
				noop(pcs.Meta("enrich").Read(px, pcs.Resource[fx]()).Write(pz)),
				noop(pcs.Meta("report").Read(points).Write(pcs.Resource[summary]())),
			},
			[][]string{{"validate", "enrich"}, {"report"}}},
		{"conflicting writers ordered by registration",
			[]pcs.System{noop(pcs.Meta("b").Write(py)), noop(pcs.Meta("a").Write(py))},
			[][]string{{"b"}, {"a"}}},
		{"write after read",
			[]pcs.System{noop(pcs.Meta("reader").Read(py)), noop(pcs.Meta("writer").Write(py))},
			[][]string{{"reader"}, {"writer"}}},
		{"read after write",
			[]pcs.System{noop(pcs.Meta("writer").Write(py)), noop(pcs.Meta("reader").Read(py))},
			[][]string{{"writer"}, {"reader"}}},
		{"readers of the same field share a stage",
			[]pcs.System{noop(pcs.Meta("r1").Read(px)), noop(pcs.Meta("r2").Read(px, py))},
			[][]string{{"r1", "r2"}}},
		{"field write conflicts with whole-component read",
			[]pcs.System{noop(pcs.Meta("w").Write(pz)), noop(pcs.Meta("all").Read(points))},
			[][]string{{"w"}, {"all"}}},
		{"resources conflict by type only",
			[]pcs.System{
				noop(pcs.Meta("wa").Write(pcs.Resource[resA]())),
				noop(pcs.Meta("rb").Read(pcs.Resource[resB]())),
				noop(pcs.Meta("ra").Read(pcs.Resource[resA]())),
				noop(pcs.Meta("wb").Write(pcs.Resource[resB]())),
			},
			[][]string{{"wa", "rb"}, {"ra", "wb"}}},
		{"longest path decides the level",
			[]pcs.System{
				noop(pcs.Meta("a").Write(px)),
				noop(pcs.Meta("b").Read(px).Write(py)),
				noop(pcs.Meta("c").Read(py).Write(pz)),
				noop(pcs.Meta("d").Read(px)),
				noop(pcs.Meta("e").Read(pz, px)),
			},
			[][]string{{"a"}, {"b", "d"}, {"c"}, {"e"}}},
		{"a deleting system is a barrier",
			[]pcs.System{noop(pcs.Meta("r").Read(px)), noop(pcs.Meta("filter").Read(py).Write(pcs.Rows)), noop(pcs.Meta("after").Read(pz))},
			[][]string{{"r"}, {"filter"}, {"after"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustBuild(t, pcs.NewPipeline("p").Components(points).Add(tt.systems...))
			if got := p.Stages(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("stages %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBuildRejectsBadDeclarations(t *testing.T) {
	other := pcs.NewDynamicComponent("point", arrow.NewSchema([]arrow.Field{{Name: "w", Type: arrow.PrimitiveTypes.Int64}}, nil))
	pw := pcs.MustField[*array.Int64](other, "w")
	ghost := pcs.NewDynamicComponent("ghost", arrow.NewSchema([]arrow.Field{{Name: "g", Type: arrow.PrimitiveTypes.Int64}}, nil))
	tests := []struct {
		name    string
		b       *pcs.PipelineBuilder
		mention []string
	}{
		{"unknown field", pcs.NewPipeline("p").Components(points).Add(noop(pcs.Meta("sys1").Read(pw))), []string{`"sys1"`, `"w"`, `"point"`}},
		{"field ref of another type", pcs.NewPipeline("p").Components(points).Add(noop(pcs.Meta("sys3").Read(pcs.MustField[*array.Float64](
			pcs.NewDynamicComponent("point", arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Float64}}, nil)), "x")))),
			[]string{`"sys3"`, "point.x", "float64", "int64"}},
		{"unknown component", pcs.NewPipeline("p").Components(points).Add(noop(pcs.Meta("sys2").Write(ghost))), []string{`"sys2"`, `"ghost"`}},
		{"duplicate name", pcs.NewPipeline("p").Components(points).Add(noop(pcs.Meta("x")), noop(pcs.Meta("x"))), []string{`"x"`}},
		{"empty name", pcs.NewPipeline("p").Components(points).Add(noop(pcs.Meta(""))), []string{"empty name"}},
		{"no systems", pcs.NewPipeline("p").Components(points), []string{"no systems"}},
		{"bad retry", pcs.NewPipeline("p").Components(points).Add(noop(pcs.Meta("r").WithRetry(pcs.RetryPolicy{MaxRetries: 1}))), []string{`"r"`, "Base"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.b.Build()
			if !errors.Is(err, pcs.ErrBuild) {
				t.Fatalf("err = %v, want ErrBuild", err)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %s", err, m)
				}
			}
		})
	}
}

func TestUndeclaredAccessFailsAtRunTime(t *testing.T) {
	tests := []struct {
		name string
		meta pcs.SystemMeta
		run  func(ds *pcs.Dataset) error
		what string
	}{
		{"read field", pcs.Meta("s").Read(px), func(ds *pcs.Dataset) error { _, err := py.Get(ds); return err }, "point.y"},
		{"read via view", pcs.Meta("s").Read(px), func(ds *pcs.Dataset) error {
			v, err := ds.View("point")
			if err != nil {
				return err
			}
			_, err = v.Float64("z")
			return err
		}, "point.z"},
		{"write a read-only field", pcs.Meta("s").Read(px), func(ds *pcs.Dataset) error {
			a := int64s(ds.Allocator(), make([]int64, ds.Len())...)
			defer a.Release()
			return px.Set(ds, a)
		}, "point.x"},
		{"resource", pcs.Meta("s"), func(ds *pcs.Dataset) error { _, err := pcs.GetResource[resA](ds); return err }, "resource"},
		{"write a read-only resource", pcs.Meta("s").Read(pcs.Resource[resA]()), func(ds *pcs.Dataset) error { return pcs.InsertResource(ds, resA{1}) }, "resource"},
		{"delete", pcs.Meta("s"), func(ds *pcs.Dataset) error { return ds.Delete(0) }, "rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			ds := newPoints(t, mem, 4)
			defer ds.Release()
			if err := pcs.InsertResource(ds, resA{7}); err != nil {
				t.Fatal(err)
			}
			p := mustBuild(t, pcs.NewPipeline("p").Components(points).Add(pcs.SystemFunc(tt.meta, func(_ context.Context, ds *pcs.Dataset) error { return tt.run(ds) })))
			_, err := p.Run(context.Background(), ds)
			var ae *pcs.AccessError
			if !errors.Is(err, pcs.ErrUndeclaredAccess) || !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an AccessError", err)
			}
			if !strings.Contains(ae.What, tt.what) || ae.System != "s" {
				t.Errorf("AccessError %+v, want system s and %q", ae, tt.what)
			}
			var se *pcs.SystemError
			if !errors.As(err, &se) || se.Attempts != 1 {
				t.Errorf("undeclared access was retried: %v", err)
			}
		})
	}
}

func TestRunAppliesWritesInDependencyOrder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newPoints(t, mem, 5)
	defer ds.Release()
	var seenByReader []int64
	p := mustBuild(t, pcs.NewPipeline("p").Components(points).Add(
		// reader is registered first, so it must see y before "w1" writes it (WAR).
		pcs.SystemFunc(pcs.Meta("reader").Read(py), func(_ context.Context, ds *pcs.Dataset) error {
			y, err := py.Get(ds)
			seenByReader = append([]int64(nil), y.Int64Values()...)
			return err
		}),
		fill("w1", py, 1),
		fill("w2", py, 2), // conflicting writer: registered later, wins
		// derive z = x + y reads w2's result (RAW).
		pcs.SystemFunc(pcs.Meta("derive").Read(px, py).Write(pz), func(_ context.Context, ds *pcs.Dataset) error {
			x, _ := px.Get(ds)
			y, err := py.Get(ds)
			if err != nil {
				return err
			}
			b := array.NewFloat64Builder(ds.Allocator())
			defer b.Release()
			for i := 0; i < ds.Len(); i++ {
				b.Append(float64(x.Value(i) + y.Value(i)))
			}
			z := b.NewFloat64Array()
			defer z.Release()
			return pz.Set(ds, z)
		}),
	))
	stats, err := p.Run(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{0, 0, 0, 0, 0}; !reflect.DeepEqual(seenByReader, want) {
		t.Errorf("reader saw %v, want %v", seenByReader, want)
	}
	z, _ := ds.Column("point", "z")
	for i := 0; i < 5; i++ {
		if got := z.(*array.Float64).Value(i); got != float64(i+2) {
			t.Errorf("z[%d] = %v, want %v", i, got, i+2)
		}
	}
	if stats.SystemsRun != 4 || stats.Rows != 5 || stats.Live != 5 || len(stats.Stages) != len(p.Stages()) || stats.Retries != 0 {
		t.Errorf("stats %+v", stats)
	}
}

func TestStageSystemsRunConcurrently(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newPoints(t, mem, 3)
	defer ds.Release()
	var arrived sync.WaitGroup
	arrived.Add(2)
	barrier := func(context.Context, *pcs.Dataset) error {
		arrived.Done()
		done := make(chan struct{})
		go func() { arrived.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("the other system of the stage never ran alongside")
		}
	}
	p := mustBuild(t, pcs.NewPipeline("p").Components(points).Add(
		pcs.SystemFunc(pcs.Meta("a").Write(px), barrier),
		pcs.SystemFunc(pcs.Meta("b").Write(py), barrier),
	))
	if len(p.Stages()) != 1 {
		t.Fatalf("stages %v", p.Stages())
	}
	if _, err := p.Run(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
}

func TestFailedStageLeavesNoWrites(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newPoints(t, mem, 3)
	defer ds.Release()
	if err := pcs.InsertResource(ds, resA{1}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	p := mustBuild(t, pcs.NewPipeline("p").Components(points).Retry(pcs.NoRetry()).Add(
		fill("ok", py, 9),
		pcs.SystemFunc(pcs.Meta("res").Write(pcs.Resource[resA]()), func(_ context.Context, ds *pcs.Dataset) error {
			return pcs.MutateResource(ds, func(r *resA) error { r.N = 99; return nil })
		}),
		pcs.SystemFunc(pcs.Meta("fails").Write(pz, pcs.Resource[resB]()), func(_ context.Context, ds *pcs.Dataset) error {
			z := array.NewFloat64Builder(ds.Allocator())
			defer z.Release()
			z.AppendValues(make([]float64, ds.Len()), nil)
			arr := z.NewFloat64Array()
			defer arr.Release()
			if err := pz.Set(ds, arr); err != nil {
				return err
			}
			if err := pcs.InsertResource(ds, resB{5}); err != nil {
				return err
			}
			return boom
		}),
	))
	if len(p.Stages()) != 1 {
		t.Fatalf("want one stage, got %v", p.Stages())
	}
	_, err := p.Run(context.Background(), ds)
	var se *pcs.SystemError
	if !errors.Is(err, boom) || !errors.As(err, &se) || se.System != "fails" {
		t.Fatalf("err = %v", err)
	}
	y, _ := ds.Column("point", "y")
	if y.(*array.Int64).Value(0) != 0 {
		t.Error("the successful system's write was applied although its stage failed")
	}
	if r, _ := pcs.GetResource[resA](ds); r.N != 1 {
		t.Errorf("resource = %d, want 1", r.N)
	}
	if _, err := pcs.GetResource[resB](ds); !errors.Is(err, pcs.ErrNoResource) {
		t.Errorf("the failed system's resource write was applied: %v", err)
	}
	del := mustBuild(t, pcs.NewPipeline("p").Components(points).Retry(pcs.NoRetry()).Add(
		pcs.SystemFunc(pcs.Meta("del").Write(pcs.Rows), func(_ context.Context, ds *pcs.Dataset) error {
			if err := ds.Delete(0); err != nil {
				return err
			}
			return boom
		})))
	if _, err := del.Run(context.Background(), ds); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if ds.Live() != 3 {
		t.Errorf("live = %d: the failed system's delete was applied", ds.Live())
	}
}

func TestDeletesApplyAfterStage(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newPoints(t, mem, 10)
	defer ds.Release()
	var seenAlive []bool
	p := mustBuild(t, pcs.NewPipeline("p").Components(points).Add(
		pcs.SystemFunc(pcs.Meta("drop-odd").Read(px).Write(pcs.Rows), func(_ context.Context, ds *pcs.Dataset) error {
			x, err := px.Get(ds)
			if err != nil {
				return err
			}
			for i := 0; i < x.Len(); i++ {
				if x.Value(i)%2 == 1 {
					if err := ds.Delete(i); err != nil {
						return err
					}
				}
			}
			if !ds.Alive(1) {
				return errors.New("delete visible before the stage ended")
			}
			return nil
		}),
		pcs.SystemFunc(pcs.Meta("after").Read(px), func(_ context.Context, ds *pcs.Dataset) error {
			for i := 0; i < ds.Len(); i++ {
				seenAlive = append(seenAlive, ds.Alive(i))
			}
			return nil
		}),
	))
	stats, err := p.Run(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	for i, alive := range seenAlive {
		if alive != (i%2 == 0) {
			t.Errorf("row %d alive = %v", i, alive)
		}
	}
	if stats.Live != 5 || ds.Live() != 5 {
		t.Errorf("live %d / %d, want 5", stats.Live, ds.Live())
	}
}

func TestRunChecksDatasetComponents(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	p := mustBuild(t, pcs.NewPipeline("p").Components(points).Add(noop(pcs.Meta("s").Read(px))))
	if _, err := p.Run(context.Background(), ds); !errors.Is(err, pcs.ErrUnknownComponent) {
		t.Fatalf("err = %v, want ErrUnknownComponent", err)
	}
	other := pcs.NewDynamicComponent("point", arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int32}}, nil))
	if err := ds.Register(other); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), ds); !errors.Is(err, pcs.ErrSchemaMismatch) {
		t.Fatalf("err = %v, want ErrSchemaMismatch", err)
	}
}

func TestPanicIsPermanentSystemError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newPoints(t, mem, 1)
	defer ds.Release()
	p := mustBuild(t, pcs.NewPipeline("p").Components(points).Add(
		pcs.SystemFunc(pcs.Meta("bad"), func(context.Context, *pcs.Dataset) error { panic("nil map") })))
	_, err := p.Run(context.Background(), ds)
	var se *pcs.SystemError
	if !errors.As(err, &se) || se.Attempts != 1 || !pcs.IsPermanent(err) || !strings.Contains(err.Error(), "nil map") {
		t.Fatalf("err = %v", err)
	}
}

func TestPlanString(t *testing.T) {
	p := mustBuild(t, pcs.NewPipeline("etl").Components(points).Add(
		noop(pcs.Meta("a").Read(px).Write(py)), noop(pcs.Meta("b").Read(py, pcs.Resource[resA]()))))
	s := p.String()
	for _, want := range []string{"pipeline etl: 2 systems in 2 stages", "stage 0", "a(reads: point.x | writes: point.y)", "stage 1", "b(reads: point.y, resource pcs_test.resA | writes: -)"} {
		if !strings.Contains(s, want) {
			t.Errorf("plan %q lacks %q", s, want)
		}
	}
}
