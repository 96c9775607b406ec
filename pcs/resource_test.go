package pcs_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

type fxRates map[string]float64

type limits struct {
	Max   int
	Names []string
}

// Two named types with the same underlying type are distinct resources.
type (
	hitCount  int
	missCount int
)

func TestResourceInsertGet(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := pcs.NewDataset(mem)
	defer ds.Release()

	_, err := pcs.GetResource[limits](ds)
	if !errors.Is(err, pcs.ErrNoResource) || !strings.Contains(err.Error(), "limits") {
		t.Fatalf("GetResource before insert: err = %v, want ErrNoResource naming the type", err)
	}
	if err := pcs.InsertResource(ds, limits{Max: 3, Names: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if err := pcs.InsertResource(ds, fxRates{"EUR": 1.08, "GBP": 1.27}); err != nil {
		t.Fatal(err)
	}
	if err := pcs.InsertResource(ds, hitCount(7)); err != nil {
		t.Fatal(err)
	}
	if err := pcs.InsertResource(ds, missCount(9)); err != nil {
		t.Fatal(err)
	}

	l, err := pcs.GetResource[limits](ds)
	if err != nil || l.Max != 3 || len(l.Names) != 1 || l.Names[0] != "a" {
		t.Fatalf("limits = %+v, %v", l, err)
	}
	fx, err := pcs.GetResource[fxRates](ds)
	if err != nil || !maps.Equal(fx, fxRates{"EUR": 1.08, "GBP": 1.27}) {
		t.Fatalf("fxRates = %v, %v", fx, err)
	}
	if h, err := pcs.GetResource[hitCount](ds); err != nil || h != 7 {
		t.Fatalf("hitCount = %v, %v", h, err)
	}
	if m, err := pcs.GetResource[missCount](ds); err != nil || m != 9 {
		t.Fatalf("missCount = %v, %v", m, err)
	}
	if _, err := pcs.GetResource[int](ds); !errors.Is(err, pcs.ErrNoResource) {
		t.Errorf("the underlying type int is not a resource: err = %v", err)
	}

	// GetResource returns a copy: changing it does not change the resource.
	l.Max = 100
	if again, _ := pcs.GetResource[limits](ds); again.Max != 3 {
		t.Errorf("modifying the returned copy changed the resource: %+v", again)
	}
	// Insert replaces, and leaves other types alone.
	if err := pcs.InsertResource(ds, limits{Max: 4}); err != nil {
		t.Fatal(err)
	}
	if again, _ := pcs.GetResource[limits](ds); again.Max != 4 || again.Names != nil {
		t.Errorf("after replace: %+v", again)
	}
	if h, _ := pcs.GetResource[hitCount](ds); h != 7 {
		t.Errorf("replacing limits changed hitCount to %v", h)
	}
}

func TestResourceMutate(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := pcs.NewDataset(mem)
	defer ds.Release()

	called := false
	err := pcs.MutateResource(ds, func(c *hitCount) error { called = true; return nil })
	if !errors.Is(err, pcs.ErrNoResource) || called {
		t.Fatalf("MutateResource of a missing resource: err = %v, fn called %v", err, called)
	}
	if err := pcs.InsertResource(ds, limits{Max: 1, Names: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if err := pcs.InsertResource(ds, hitCount(1)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := pcs.MutateResource(ds, func(c *hitCount) error { *c += 10; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if h, _ := pcs.GetResource[hitCount](ds); h != 51 {
		t.Errorf("hitCount after 5 mutations = %v, want 51", h)
	}
	err = pcs.MutateResource(ds, func(l *limits) error {
		if l.Max != 1 {
			t.Errorf("fn saw Max %d", l.Max)
		}
		l.Max = 99
		l.Names = []string{"replaced"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := pcs.GetResource[limits](ds); l.Max != 99 || l.Names[0] != "replaced" {
		t.Errorf("limits after mutate: %+v", l)
	}

	// fn's error is returned and nothing is stored, even what fn changed
	// before failing.
	boom := errors.New("boom")
	err = pcs.MutateResource(ds, func(l *limits) error {
		l.Max = -1
		l.Names = nil
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("MutateResource err = %v, want fn's error", err)
	}
	if l, _ := pcs.GetResource[limits](ds); l.Max != 99 || len(l.Names) != 1 {
		t.Errorf("a failed mutation was stored: %+v", l)
	}
	if h, _ := pcs.GetResource[hitCount](ds); h != 51 {
		t.Errorf("a failed mutation of limits changed hitCount: %v", h)
	}
}

// A clone has its own resource table: inserting into one does not show in
// the other. Values are shared shallowly, as documented.
func TestResourceClone(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := pcs.InsertResource(ds, hitCount(1)); err != nil {
		t.Fatal(err)
	}
	cl := ds.Clone()
	defer cl.Release()
	if h, err := pcs.GetResource[hitCount](cl); err != nil || h != 1 {
		t.Fatalf("clone's hitCount = %v, %v", h, err)
	}
	if err := pcs.InsertResource(cl, missCount(5)); err != nil {
		t.Fatal(err)
	}
	if err := pcs.MutateResource(cl, func(h *hitCount) error { *h = 2; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := pcs.GetResource[missCount](ds); !errors.Is(err, pcs.ErrNoResource) {
		t.Errorf("resource inserted in the clone shows in the original: %v", err)
	}
	if h, _ := pcs.GetResource[hitCount](ds); h != 1 {
		t.Errorf("mutating the clone's resource changed the original's: %v", h)
	}
}

// TestMissingResourceIsPermanent: a system that reads a resource the
// dataset lacks fails at once (one attempt, not the default retries):
// no retry can insert it. Inserted as *T and read as T, the error says
// that a pointer and a value are different resources.
func TestMissingResourceIsPermanent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		insert func(ds *pcs.Dataset) error
		want   []string
	}{
		{"missing", func(*pcs.Dataset) error { return nil }, []string{"no such resource: pcs_test.limits", "InsertResource"}},
		{"pointer inserted", func(ds *pcs.Dataset) error { return pcs.InsertResource(ds, &limits{Max: 1}) },
			[]string{"no such resource: pcs_test.limits, but there is a *pcs_test.limits", "pointer and a value", "GetResource[*pcs_test.limits]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			ds := pcs.NewDataset(mem)
			defer ds.Release()
			if err := tc.insert(ds); err != nil {
				t.Fatal(err)
			}
			attempts := 0
			p, err := pcs.NewPipeline("p").Add(pcs.SystemFunc(pcs.Meta("reader").Read(pcs.Resource[limits]()),
				func(_ context.Context, ds *pcs.Dataset) error {
					attempts++
					_, err := pcs.GetResource[limits](ds)
					return err
				})).Build()
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Run(context.Background(), ds)
			var se *pcs.SystemError
			if !errors.As(err, &se) || !errors.Is(err, pcs.ErrNoResource) || !pcs.IsPermanent(err) || se.Attempts != 1 || attempts != 1 {
				t.Fatalf("err = %v (attempts %d), want one permanent attempt failing with ErrNoResource", err, attempts)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
