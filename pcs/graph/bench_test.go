package graph_test

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
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

// RMAT returns the edges of an R-MAT graph (Chakrabarti, Zhan and
// Faloutsos 2004; the Graph500 parameters a=0.57, b=0.19, c=0.19,
// d=0.05) over 2^scale vertex ids: exactly m distinct edges, no self
// loops, in random order.
func RMAT(scale, m int, seed uint64) (src, dst []int64) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	keys := make([]uint64, 0, m+m/8)
	for len(keys) < m {
		for k := len(keys); k < m+m/8; k++ {
			var u, v uint64
			for range scale {
				p := r.Float64()
				u, v = u<<1, v<<1
				switch {
				case p < 0.57:
				case p < 0.76:
					v |= 1
				case p < 0.95:
					u |= 1
				default:
					u, v = u|1, v|1
				}
			}
			if u != v {
				keys = append(keys, u<<32|v)
			}
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
	}
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	keys = keys[:m]
	src, dst = make([]int64, m), make([]int64, m)
	for i, k := range keys {
		src[i], dst[i] = int64(k>>32), int64(k&math.MaxUint32)
	}
	return src, dst
}

// benchGraph is a graph for the pcs-vs-gonum benchmarks: the same edge
// list as a pcs Graph (built from Arrow columns) and a gonum
// simple.DirectedGraph, with the bytes each took to build per edge.
type benchGraph struct {
	g                *graph.Graph
	gonum            *simple.DirectedGraph
	root             int64
	pcsBytes, gonumB float64 // allocated while building, per edge
	pcsResident      float64 // Graph.Bytes per edge
}

func allocated() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

func newBenchGraph(src, dst []int64) *benchGraph {
	bg := &benchGraph{root: src[0]}
	m := float64(len(src))
	mem := memory.NewGoAllocator()
	sb, db := array.NewInt64Builder(mem), array.NewInt64Builder(mem)
	sb.AppendValues(src, nil)
	db.AppendValues(dst, nil)
	sa, da := sb.NewArray(), db.NewArray()
	sb.Release()
	db.Release()
	before := allocated()
	b := graph.NewBuilder(true, false)
	if err := b.Append(sa, da, nil); err != nil {
		panic(err)
	}
	bg.g = b.Build()
	bg.pcsBytes = float64(allocated()-before) / m
	bg.pcsResident = float64(bg.g.Bytes()) / m
	sa.Release()
	da.Release()
	before = allocated()
	g := simple.NewDirectedGraph()
	for i := range src {
		for _, id := range []int64{src[i], dst[i]} {
			if g.Node(id) == nil {
				g.AddNode(simple.Node(id))
			}
		}
		g.SetEdge(simple.Edge{F: simple.Node(src[i]), T: simple.Node(dst[i])})
	}
	bg.gonum = g
	bg.gonumB = float64(allocated()-before) / m
	return bg
}

var (
	rmatOnce sync.Once
	rmat     *benchGraph
)

// rmatGraph is the R-MAT graph of 2^20 (1,048,576) vertex ids and 10M
// edges, built once per process.
func rmatGraph() *benchGraph {
	rmatOnce.Do(func() {
		src, dst := RMAT(20, 10_000_000, 16)
		rmat = newBenchGraph(src, dst)
	})
	return rmat
}

// PageRank tolerances of equal accuracy: networkx's (and pcs's) test is
// L1 change < N*tol, gonum's is L2 change < tol; for a change spread over
// N vertices L2 ~ L1/sqrt(N), so gonum gets sqrt(N)*tol.
const benchTol = 1e-10

// BenchPageRank times PageRank on bg: "pcs" (GOMAXPROCS goroutines) and
// "gonum" (network.PageRankSparse, its sparse power iteration), damping
// 0.85, the same accuracy (benchTol); reports B/edge of each graph.
func BenchPageRank(b *testing.B, bg *benchGraph) {
	n := float64(bg.g.N())
	b.Run("pcs", func(b *testing.B) {
		var it int
		for b.Loop() {
			r, err := bg.g.PageRank(context.Background(), graph.PageRankOptions{Damping: 0.85, Tolerance: benchTol, MaxIterations: 1000})
			if err != nil {
				b.Fatal(err)
			}
			it = r.Iterations
		}
		b.ReportMetric(float64(it), "iterations")
		b.ReportMetric(bg.pcsBytes, "B/edge")
		b.ReportMetric(bg.pcsResident, "resident-B/edge")
	})
	b.Run("gonum", func(b *testing.B) {
		for b.Loop() {
			network.PageRankSparse(bg.gonum, 0.85, math.Sqrt(n)*benchTol)
		}
		b.ReportMetric(bg.gonumB, "B/edge")
	})
}

// BenchBFS times a breadth-first search from the first edge's source:
// "pcs" (levels and parents, parallel frontiers) and "gonum"
// (traverse.BreadthFirst.Walk recording depths).
func BenchBFS(b *testing.B, bg *benchGraph) {
	root, _ := bg.g.Vertices().IndexInt(bg.root)
	b.Run("pcs", func(b *testing.B) {
		for b.Loop() {
			if _, err := bg.g.BFS(context.Background(), root); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(bg.pcsBytes, "B/edge")
	})
	b.Run("gonum", func(b *testing.B) {
		for b.Loop() {
			depth := make(map[int64]int32, bg.g.N())
			var w traverse.BreadthFirst
			w.Walk(bg.gonum, bg.gonum.Node(bg.root), func(n gg.Node, d int) bool { depth[n.ID()] = int32(d); return false })
		}
		b.ReportMetric(bg.gonumB, "B/edge")
	})
}

// BenchmarkRMATPageRank: PageRank on R-MAT 1M vertices / 10M edges.
func BenchmarkRMATPageRank(b *testing.B) { BenchPageRank(b, rmatGraph()) }

// BenchmarkRMATBFS: BFS on R-MAT 1M vertices / 10M edges.
func BenchmarkRMATBFS(b *testing.B) { BenchBFS(b, rmatGraph()) }

// BenchmarkRMATBuild: Builder.Append + Build of the R-MAT edge list from
// Arrow int64 columns (pcs) against adding the edges to a gonum
// simple.DirectedGraph.
func BenchmarkRMATBuild(b *testing.B) {
	src, dst := RMAT(20, 10_000_000, 16)
	mem := memory.NewGoAllocator()
	sb, db := array.NewInt64Builder(mem), array.NewInt64Builder(mem)
	sb.AppendValues(src, nil)
	db.AppendValues(dst, nil)
	sa, da := sb.NewArray(), db.NewArray()
	defer sa.Release()
	defer da.Release()
	b.Run("pcs", func(b *testing.B) {
		for b.Loop() {
			bl := graph.NewBuilder(true, false)
			if err := bl.Append(sa, da, nil); err != nil {
				b.Fatal(err)
			}
			bl.Build()
		}
	})
	b.Run("gonum", func(b *testing.B) {
		for b.Loop() {
			g := simple.NewDirectedGraph()
			for i := range src {
				for _, id := range []int64{src[i], dst[i]} {
					if g.Node(id) == nil {
						g.AddNode(simple.Node(id))
					}
				}
				g.SetEdge(simple.Edge{F: simple.Node(src[i]), T: simple.Node(dst[i])})
			}
		}
	})
}
