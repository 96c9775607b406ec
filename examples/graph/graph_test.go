package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"gonum.org/v1/gonum/graph/multi"
	"gonum.org/v1/gonum/graph/network"
	"gonum.org/v1/gonum/graph/simple"
	"gonum.org/v1/gonum/graph/topo"

	"github.com/pcs-dev/pcs/transports/files"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..")
}

// routes counts the flights of each origin -> destination route.
func routes(t *testing.T, path string) (map[[2]string]float64, int64) {
	t.Helper()
	src, err := files.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	counts := map[[2]string]float64{}
	var rows int64
	for {
		rec, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			return counts, rows
		}
		if err != nil {
			t.Fatal(err)
		}
		col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
		o, d := col("origin").(*array.LargeString), col("destination").(*array.LargeString)
		for i := range o.Len() {
			if o.IsValid(i) && d.IsValid(i) {
				counts[[2]string{o.Value(i), d.Value(i)}]++
			}
		}
		rows += rec.NumRows()
		rec.Release()
	}
}

// TestAirports runs the example (flights-3m from ../shared/data, else
// the 50k slice) and checks its PageRank against gonum's
// network.PageRank on the route graph weighted by flights (within 1e-9),
// its components against topo.ConnectedComponents, and the printed top
// airports.
func TestAirports(t *testing.T) {
	repo := repoRoot(t)
	o := options{repo: repo, flights: findFlights(repo, ""), top: 5}
	t.Logf("flights: %s", o.flights)
	var out bytes.Buffer
	rep, err := run(context.Background(), o, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	counts, rows := routes(t, o.flights)
	if rep.Stats[0].RowsIn != rows {
		t.Fatalf("pipeline read %d rows, the file has %d", rep.Stats[0].RowsIn, rows)
	}
	ids := map[string]int64{}
	names := map[int64]string{}
	id := func(a string) int64 {
		if i, ok := ids[a]; ok {
			return i
		}
		ids[a] = int64(len(ids))
		names[ids[a]] = a
		return ids[a]
	}
	wg := multi.NewWeightedDirectedGraph()
	und := simple.NewUndirectedGraph()
	for r, n := range counts {
		u, v := id(r[0]), id(r[1])
		for _, x := range []int64{u, v} {
			if wg.Node(x) == nil {
				wg.AddNode(multi.Node(x))
				und.AddNode(simple.Node(x))
			}
		}
		wg.SetWeightedLine(wg.NewWeightedLine(multi.Node(u), multi.Node(v), n))
		if u != v {
			und.SetEdge(und.NewEdge(simple.Node(u), simple.Node(v)))
		}
	}
	want := network.PageRankSparse(wg, 0.85, 1e-14)
	if len(rep.Rank) != len(want) {
		t.Fatalf("%d airports ranked, gonum %d", len(rep.Rank), len(want))
	}
	for i, w := range want {
		if got, ok := rep.Rank[names[i]]; !ok || math.Abs(got-w) > 1e-9 {
			t.Errorf("rank of %s = %v, gonum %v", names[i], got, w)
		}
	}
	comps := topo.ConnectedComponents(und)
	if got := rep.ComponentSizes(); len(got) != len(comps) {
		t.Fatalf("%d components, gonum %d", len(got), len(comps))
	}
	for _, c := range comps {
		for _, n := range c {
			if rep.Component[names[n.ID()]] != rep.Component[names[c[0].ID()]] {
				t.Fatalf("%s and %s: gonum puts them in one component", names[n.ID()], names[c[0].ID()])
			}
		}
	}
	// the printed top airports are gonum's top airports
	top := rep.TopAirports(5)
	for i, a := range top {
		if !strings.Contains(out.String(), a) {
			t.Errorf("output lacks top airport %d %s", i+1, a)
		}
		if i > 0 && want[ids[a]] > want[ids[top[i-1]]] {
			t.Errorf("gonum ranks %s above %s", a, top[i-1])
		}
	}
}
