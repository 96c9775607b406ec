package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	gg "gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/network"
	"gonum.org/v1/gonum/graph/simple"
	"gonum.org/v1/gonum/graph/traverse"

	"github.com/pcs-dev/pcs/pcs/graph"
)

// The airport benchmarks run on the route graph of flights-3m (or the
// 50k slice): one weighted edge per origin -> destination route, weight =
// flights, the same graph for pcs (graph.Graph) and gonum
// (simple.WeightedDirectedGraph). BenchmarkAirportPageRankFlights also
// times pcs on the raw edge list (one edge per flight), which gonum's
// simple graphs cannot hold. B/edge: bytes allocated to build each graph
// per edge.

type airportGraph struct {
	g            *graph.Graph
	gonum        *simple.WeightedDirectedGraph
	root         string
	pcsB, gonumB float64
	flights      *graph.Graph // one edge per flight
	flightsB     float64
	flightsEdges int
}

var (
	airportOnce sync.Once
	airport     *airportGraph
)

func allocated() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

func airportBench(b *testing.B) *airportGraph {
	airportOnce.Do(func() {
		wd, _ := os.Getwd()
		repo := filepath.Join(wd, "..", "..")
		t := &testing.T{}
		counts, _ := routes(t, findFlights(repo, ""))
		a := &airportGraph{}
		mem := memory.NewGoAllocator()
		sb, db, wb := array.NewStringBuilder(mem), array.NewStringBuilder(mem), array.NewFloat64Builder(mem)
		for r, n := range counts {
			sb.Append(r[0])
			db.Append(r[1])
			wb.Append(n)
		}
		s, d, w := sb.NewArray(), db.NewArray(), wb.NewArray()
		before := allocated()
		bl := graph.NewBuilder(true, true)
		if err := bl.Append(s, d, w); err != nil {
			panic(err)
		}
		a.g = bl.Build()
		a.pcsB = float64(allocated()-before) / float64(len(counts))
		before = allocated()
		a.gonum = simple.NewWeightedDirectedGraph(0, math.Inf(1))
		for i := range s.Len() {
			u, _ := bl.Vertices().IndexString(s.(*array.String).Value(i))
			v, _ := bl.Vertices().IndexString(d.(*array.String).Value(i))
			for _, x := range []int32{u, v} {
				if a.gonum.Node(int64(x)) == nil {
					a.gonum.AddNode(simple.Node(x))
				}
			}
			if u != v {
				a.gonum.SetWeightedEdge(simple.WeightedEdge{F: simple.Node(u), T: simple.Node(v), W: w.(*array.Float64).Value(i)})
			}
		}
		a.gonumB = float64(allocated()-before) / float64(len(counts))
		a.root = "ORD"
		if _, ok := bl.Vertices().IndexString(a.root); !ok {
			a.root = s.(*array.String).Value(0)
		}
		// the flights as edges
		fb, fd := array.NewStringBuilder(mem), array.NewStringBuilder(mem)
		for r, n := range counts {
			for range int(n) {
				fb.Append(r[0])
				fd.Append(r[1])
			}
		}
		fs, fdst := fb.NewArray(), fd.NewArray()
		before = allocated()
		fl := graph.NewBuilder(true, false)
		if err := fl.Append(fs, fdst, nil); err != nil {
			panic(err)
		}
		a.flights = fl.Build()
		a.flightsEdges = fs.Len()
		a.flightsB = float64(allocated()-before) / float64(fs.Len())
		airport = a
	})
	return airport
}

const benchTol = 1e-10 // as pcs/graph's benchmarks: L1 < N*tol vs gonum's L2 < sqrt(N)*tol

// BenchmarkAirportPageRank: PageRank of the route graph, pcs vs gonum's
// network.PageRankSparse (weighted), damping 0.85, equal accuracy.
func BenchmarkAirportPageRank(b *testing.B) {
	a := airportBench(b)
	b.Run("pcs", func(b *testing.B) {
		for b.Loop() {
			if _, err := a.g.PageRank(context.Background(), graph.PageRankOptions{Damping: 0.85, Tolerance: benchTol, MaxIterations: 1000}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(a.pcsB, "B/edge")
	})
	b.Run("gonum", func(b *testing.B) {
		for b.Loop() {
			network.PageRankSparse(a.gonum, 0.85, math.Sqrt(float64(a.g.N()))*benchTol)
		}
		b.ReportMetric(a.gonumB, "B/edge")
	})
}

// BenchmarkAirportPageRankFlights: pcs PageRank over one edge per flight
// (parallel edges summed: the same ranks as the route graph).
func BenchmarkAirportPageRankFlights(b *testing.B) {
	a := airportBench(b)
	b.Run("pcs", func(b *testing.B) {
		for b.Loop() {
			if _, err := a.flights.PageRank(context.Background(), graph.PageRankOptions{Damping: 0.85, Tolerance: benchTol, MaxIterations: 1000}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(a.flightsEdges), "edges")
		b.ReportMetric(a.flightsB, "B/edge")
	})
}

// BenchmarkAirportBFS: BFS from ORD over the route graph, pcs (levels and
// parents) vs gonum's traverse.BreadthFirst recording depths.
func BenchmarkAirportBFS(b *testing.B) {
	a := airportBench(b)
	root, _ := a.g.Vertices().IndexString(a.root)
	b.Run("pcs", func(b *testing.B) {
		for b.Loop() {
			if _, err := a.g.BFS(context.Background(), root); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(a.pcsB, "B/edge")
	})
	b.Run("gonum", func(b *testing.B) {
		for b.Loop() {
			depth := map[int64]int32{}
			var w traverse.BreadthFirst
			w.Walk(a.gonum, a.gonum.Node(int64(root)), func(n gg.Node, d int) bool { depth[n.ID()] = int32(d); return false })
		}
		b.ReportMetric(a.gonumB, "B/edge")
	})
}
