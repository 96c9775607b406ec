package pcs_test

import (
	"context"
	"errors"
	"io"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// sliceSource yields one dataset of n points per entry of sizes, then EOF.
func sliceSource(t testing.TB, mem memory.Allocator, sizes ...int) pcs.Source {
	return func(ctx context.Context) (*pcs.Dataset, error) {
		if len(sizes) == 0 {
			return nil, io.EOF
		}
		n := sizes[0]
		sizes = sizes[1:]
		return newPoints(t, mem, n), nil
	}
}

func pipelineOf(t *testing.T, name string, s pcs.System) *pcs.Pipeline {
	return mustBuild(t, pcs.NewPipeline(name).Components(points).Add(s))
}

func TestSchedulerDataEdgeSkipsEmptyOutput(t *testing.T) {
	for _, mode := range []pcs.ScheduleMode{pcs.Sequential, pcs.Concurrent} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		// a deletes rows with x >= 2: inputs of 2, 0, 5, 0 rows leave 2, 0,
		// 2, 0 live rows, so b runs twice and is skipped twice.
		dropBig := pcs.SystemFunc(pcs.Meta("drop").Read(px).Write(pcs.Rows), func(_ context.Context, ds *pcs.Dataset) error {
			x, err := px.Get(ds)
			if err != nil {
				return err
			}
			for i := 0; i < x.Len(); i++ {
				if x.Value(i) >= 2 {
					if err := ds.Delete(i); err != nil {
						return err
					}
				}
			}
			return nil
		})
		var bRows []int
		s := pcs.NewScheduler(mode)
		must(t, s.Add(pipelineOf(t, "a", dropBig), sliceSource(t, mem, 2, 0, 5, 0), nil))
		must(t, s.Add(pipelineOf(t, "b", noop(pcs.Meta("count").Read(px))), nil, func(_ context.Context, ds *pcs.Dataset) error {
			bRows = append(bRows, ds.Live())
			return nil
		}))
		must(t, s.Feed("a", "b", 1))
		must(t, s.Run(context.Background()))
		a, b := s.Stats("a"), s.Stats("b")
		// a runs on all 4 inputs; its outputs have 2, 0, 2, 0 live rows.
		if a.Runs != 4 || b.Runs != 2 || b.Skipped != 2 {
			t.Errorf("mode %v: a %+v, b %+v", mode, a, b)
		}
		if want := []int{2, 0, 2, 0}; !reflect.DeepEqual(bRows, want) {
			t.Errorf("mode %v: b's sink saw %v, want %v", mode, bRows, want)
		}
		mem.AssertSize(t, 0)
	}
}

func TestSchedulerBackpressureBlocksProducer(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const batches, rows, capacity = 40, 100, 2
	var produced, consumed atomic.Int64
	var maxAhead atomic.Int64
	src := sliceSource(t, mem, repeat(rows, batches)...)
	counting := func(ctx context.Context) (*pcs.Dataset, error) {
		ds, err := src(ctx)
		if err == nil {
			produced.Add(1)
		}
		return ds, err
	}
	slow := pcs.SystemFunc(pcs.Meta("slow").Read(px), func(_ context.Context, ds *pcs.Dataset) error {
		if ahead := produced.Load() - consumed.Load(); ahead > maxAhead.Load() {
			maxAhead.Store(ahead)
		}
		time.Sleep(2 * time.Millisecond)
		return nil
	})
	var sum atomic.Int64
	s := pcs.NewScheduler(pcs.Concurrent)
	must(t, s.Add(pipelineOf(t, "fast", noop(pcs.Meta("pass").Read(px))), counting, nil))
	must(t, s.Add(pipelineOf(t, "slow", slow), nil, func(_ context.Context, ds *pcs.Dataset) error {
		consumed.Add(1)
		sum.Add(int64(ds.Live()))
		return nil
	}))
	must(t, s.Feed("fast", "slow", capacity))
	must(t, s.Run(context.Background()))
	if sum.Load() != batches*rows {
		t.Errorf("consumer saw %d rows, want %d", sum.Load(), batches*rows)
	}
	if st := s.Stats("fast"); st.Blocked == 0 || st.BlockedTime <= 0 {
		t.Errorf("the fast producer never blocked: %+v", st)
	}
	// At most: capacity queued + one being sent + one being consumed.
	if m := maxAhead.Load(); m > capacity+2 {
		t.Errorf("producer ran %d batches ahead with a queue of %d", m, capacity)
	}
}

func TestSchedulerOrderEdge(t *testing.T) {
	for _, mode := range []pcs.ScheduleMode{pcs.Sequential, pcs.Concurrent} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		var mu sync.Mutex
		var log []string
		logger := func(tag string) pcs.System {
			return pcs.SystemFunc(pcs.Meta("log").Read(px), func(context.Context, *pcs.Dataset) error {
				time.Sleep(time.Millisecond)
				mu.Lock()
				log = append(log, tag)
				mu.Unlock()
				return nil
			})
		}
		s := pcs.NewScheduler(mode)
		must(t, s.Add(pipelineOf(t, "b", logger("b")), sliceSource(t, mem, 1, 1, 1), nil))
		must(t, s.Add(pipelineOf(t, "a", logger("a")), sliceSource(t, mem, 1, 1, 1), nil))
		must(t, s.After("b", "a"))
		must(t, s.Run(context.Background()))
		// b's k-th run follows a's k-th run: in every prefix, #b <= #a.
		na, nb := 0, 0
		for _, e := range log {
			if e == "a" {
				na++
			} else {
				nb++
			}
			if nb > na {
				t.Fatalf("mode %v: b ran before a: %v", mode, log)
			}
		}
		if na != 3 || nb != 3 {
			t.Fatalf("mode %v: log %v", mode, log)
		}
		if mode == pcs.Sequential && !reflect.DeepEqual(log, []string{"a", "b", "a", "b", "a", "b"}) {
			t.Errorf("sequential ticks: %v", log)
		}
		mem.AssertSize(t, 0)
	}
}

func TestSchedulerFanOutClones(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var left, right atomic.Int64
	s := pcs.NewScheduler(pcs.Concurrent)
	must(t, s.Add(pipelineOf(t, "src", noop(pcs.Meta("pass").Read(px))), sliceSource(t, mem, 3, 4), nil))
	// "l" deletes a row in its copy; "r" must not see that.
	must(t, s.Add(pipelineOf(t, "l", pcs.SystemFunc(pcs.Meta("del").Write(pcs.Rows), func(_ context.Context, ds *pcs.Dataset) error { return ds.Delete(0) })), nil,
		func(_ context.Context, ds *pcs.Dataset) error { left.Add(int64(ds.Live())); return nil }))
	must(t, s.Add(pipelineOf(t, "r", noop(pcs.Meta("pass").Read(px))), nil,
		func(_ context.Context, ds *pcs.Dataset) error { right.Add(int64(ds.Live())); return nil }))
	must(t, s.Feed("src", "l", 1))
	must(t, s.Feed("src", "r", 1))
	must(t, s.Run(context.Background()))
	if left.Load() != 5 || right.Load() != 7 {
		t.Errorf("left %d (want 5), right %d (want 7)", left.Load(), right.Load())
	}
}

func TestSchedulerErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	p := func(name string) *pcs.Pipeline { return pipelineOf(t, name, noop(pcs.Meta("s").Read(px))) }

	s := pcs.NewScheduler(pcs.Sequential)
	must(t, s.Add(p("a"), nil, nil))
	if err := s.Run(context.Background()); !errors.Is(err, pcs.ErrBuild) {
		t.Errorf("no input: %v", err)
	}

	s = pcs.NewScheduler(pcs.Sequential)
	must(t, s.Add(p("a"), sliceSource(t, mem), nil))
	must(t, s.Add(p("b"), sliceSource(t, mem), nil))
	must(t, s.After("a", "b"))
	must(t, s.After("b", "a"))
	if err := s.Run(context.Background()); !errors.Is(err, pcs.ErrBuild) {
		t.Errorf("cycle: %v", err)
	}
	if err := s.Add(p("a"), nil, nil); !errors.Is(err, pcs.ErrBuild) {
		t.Errorf("duplicate: %v", err)
	}
	if err := s.Feed("a", "b", 0); !errors.Is(err, pcs.ErrBuild) {
		t.Errorf("capacity 0: %v", err)
	}

	// A failing downstream pipeline stops the run; queued datasets are released.
	boom := errors.New("boom")
	for _, mode := range []pcs.ScheduleMode{pcs.Sequential, pcs.Concurrent} {
		s = pcs.NewScheduler(mode)
		must(t, s.Add(p("up"), sliceSource(t, mem, repeat(3, 20)...), nil))
		must(t, s.Add(pipelineOf(t, "down", pcs.SystemFunc(pcs.Meta("s").Read(px).WithRetry(pcs.NoRetry()),
			func(context.Context, *pcs.Dataset) error { return boom })), nil, nil))
		must(t, s.Feed("up", "down", 4))
		if err := s.Run(context.Background()); !errors.Is(err, boom) {
			t.Errorf("mode %v: err = %v", mode, err)
		}
	}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
