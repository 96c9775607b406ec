package ops_test

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/ops"
)

func TestDedupe(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newOrders(t, mem, `[
		{"id": 0, "ccy": "EUR", "region": 1},
		{"id": 1, "ccy": "EUR", "region": 2},
		{"id": 2, "ccy": "EUR", "region": 1},
		{"id": 3, "ccy": null,  "region": 1},
		{"id": 4, "ccy": null,  "region": 1},
		{"id": 5, "ccy": "USD", "region": null},
		{"id": 6, "ccy": "USD", "region": null},
		{"id": 7, "ccy": "USD", "region": 2},
		{"id": 8, "ccy": "USD", "region": 2},
		{"id": 9, "ccy": "USD", "region": 2}
	]`)
	defer ds.Release()
	if err := ds.Delete(7); err != nil { // deleted rows are not "seen": 8 is kept
		t.Fatal(err)
	}
	d := mustSys(t)(ops.Dedupe("dedupe", order, []string{"ccy", "region"}))
	if got, want := d.Meta().String(), "dedupe(reads: order.ccy, order.region | writes: rows (alive bitmap))"; got != want {
		t.Errorf("meta = %s, want %s", got, want)
	}
	runOrders(t, ds, d)
	want := []bool{true, true, false, true, true, true, true, false, true, false}
	if got := alive(ds); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("alive = %v, want %v", got, want)
	}
	// Idempotent; a single key dedupes more.
	runOrders(t, ds, d)
	if got := alive(ds); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("second run: alive = %v, want %v", got, want)
	}
	runOrders(t, ds, mustSys(t)(ops.Dedupe("ccy", order, []string{"ccy"})))
	want = []bool{true, false, false, true, true, true, false, false, false, false}
	if got := alive(ds); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("single key: alive = %v, want %v", got, want)
	}
}

func TestDedupeEmpty(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newOrders(t, mem, `[]`)
	defer ds.Release()
	runOrders(t, ds, mustSys(t)(ops.Dedupe("d", order, []string{"id", "ccy"})))
	if ds.Len() != 0 || ds.Live() != 0 {
		t.Fatalf("Len %d Live %d", ds.Len(), ds.Live())
	}
}

// TestDedupeRandom compares a run over several appended batches with a
// row-by-row reference.
func TestDedupeRandom(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewSource(3))
	var batches []string
	id := 0
	for b := 0; b < 5; b++ {
		var rows []string
		for i := 0; i < 11+b*9; i++ {
			ccy, region := "null", "null"
			if rng.Intn(8) > 0 {
				ccy = fmt.Sprintf("%q", []string{"A", "B", "C", "AB", ""}[rng.Intn(5)])
			}
			if rng.Intn(8) > 0 {
				region = fmt.Sprint(rng.Intn(4) - 1)
			}
			rows = append(rows, fmt.Sprintf(`{"id": %d, "ccy": %s, "region": %s}`, id, ccy, region))
			id++
		}
		batches = append(batches, "["+strings.Join(rows, ",")+"]")
	}
	ds := newOrders(t, mem, batches...)
	defer ds.Release()
	for i := 3; i < ds.Len(); i += 7 {
		if err := ds.Delete(i); err != nil {
			t.Fatal(err)
		}
	}
	dk := cols(t, func(n string) arrow.Array { return orderCol(t, ds, n) }, "ccy", "region")
	want := make([]bool, ds.Len())
	seen := map[any]bool{}
	for i := range want {
		if !ds.Alive(i) {
			continue
		}
		k := rowKey(dk, i)
		want[i] = k == nil || !seen[k]
		if k != nil {
			seen[k] = true
		}
	}
	runOrders(t, ds, mustSys(t)(ops.Dedupe("d", order, []string{"ccy", "region"})))
	got := alive(ds)
	deleted := 0
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("alive[%d] = %v, want %v", i, got[i], want[i])
		}
		if !want[i] {
			deleted++
		}
	}
	if deleted == 0 {
		t.Fatal("no duplicates in the test data")
	}
}

func TestDedupeErrors(t *testing.T) {
	cases := []struct {
		name string
		keys []string
		is   error
	}{
		{"none", nil, nil},
		{"unknown", []string{"ccy", "nope"}, pcs.ErrUnknownField},
		{"float", []string{"rate"}, nil},
		{"bool", []string{"flag"}, nil},
		{"twice", []string{"id", "id"}, nil},
	}
	for _, c := range cases {
		_, err := ops.Dedupe(c.name, order, c.keys)
		var oe *ops.Error
		if err == nil || !errors.As(err, &oe) || oe.System != c.name || !strings.HasPrefix(oe.Expr, "dedupe(") {
			t.Errorf("%s: error %v", c.name, err)
			continue
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%s: %v is not %v", c.name, err, c.is)
		}
	}
}

// TestDedupeAcross: keys remembered across datasets; a replay of the same
// partition keeps what it kept; MaxKeys forgets the oldest.
func TestDedupeAcross(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	d := mustSys(t)(ops.DedupeAcross("dd", order, []string{"ccy"}, ops.DedupeOptions{MaxKeys: 3}))
	part := func(id string, js string) []bool {
		t.Helper()
		ds := newOrders(t, mem, js)
		defer ds.Release()
		if id != "" {
			if err := pcs.InsertResource(ds, pcs.PartitionID(id)); err != nil {
				t.Fatal(err)
			}
		}
		runOrders(t, ds, d)
		return alive(ds)
	}
	check := func(step string, got []bool, want ...bool) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: alive = %v, want %v", step, got, want)
		}
	}
	check("p1", part("p1", `[{"id":0,"ccy":"EUR"},{"id":1,"ccy":"USD"},{"id":2,"ccy":"EUR"},{"id":3,"ccy":null}]`),
		true, true, false, true)
	check("p2", part("p2", `[{"id":4,"ccy":"USD"},{"id":5,"ccy":"GBP"},{"id":6,"ccy":null}]`),
		false, true, true)
	// p1 redelivered: its own keys are kept again, the duplicate inside it is not.
	check("p1 replay", part("p1", `[{"id":0,"ccy":"EUR"},{"id":1,"ccy":"USD"},{"id":2,"ccy":"EUR"},{"id":3,"ccy":null}]`),
		true, true, false, true)
	// A fourth key evicts the oldest (EUR): EUR passes again, USD does not.
	check("p3", part("p3", `[{"id":7,"ccy":"JPY"}]`), true)
	check("p4", part("p4", `[{"id":8,"ccy":"EUR"},{"id":9,"ccy":"USD"}]`), true, false)
	// Without a partition id every dataset is new: the same rows twice are duplicates the second time.
	check("anon 1", part("", `[{"id":10,"ccy":"CHF"}]`), true)
	check("anon 2", part("", `[{"id":10,"ccy":"CHF"}]`), false)
	if got, want := d.(fmt.Stringer).String(), "dedupe dd: dedupe(ccy) across partitions"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
