package graph_test

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/graph"
)

// Build a graph from Arrow edge-list columns with string ids, then run
// PageRank, BFS and Dijkstra; results come back keyed by vertex id.
func Example() {
	mem := memory.NewGoAllocator()
	strs := func(v ...string) *array.String {
		b := array.NewStringBuilder(mem)
		defer b.Release()
		b.AppendValues(v, nil)
		return b.NewStringArray()
	}
	src, dst := strs("a", "b", "b", "c", "d"), strs("b", "c", "d", "a", "c")
	wb := array.NewFloat64Builder(mem)
	wb.AppendValues([]float64{1, 4, 1, 1, 1}, nil)
	w := wb.NewFloat64Array()
	defer src.Release()
	defer dst.Release()
	defer w.Release()

	b := graph.NewBuilder(true, true) // directed, weighted
	if err := b.Append(src, dst, w); err != nil {
		panic(err)
	}
	g := b.Build()
	ctx := context.Background()

	pr, err := g.PageRank(ctx, graph.DefaultPageRankOptions())
	if err != nil {
		panic(err)
	}
	rec := pr.Record(mem) // vertex, rank
	defer rec.Release()
	for i := range int(rec.NumRows()) {
		fmt.Printf("%s %.4f\n", rec.Column(0).ValueStr(i), rec.Column(1).(*array.Float64).Value(i))
	}

	a, _ := g.Vertices().IndexString("a")
	sp, err := g.ShortestPaths(ctx, a)
	if err != nil {
		panic(err)
	}
	c, _ := g.Vertices().IndexString("c")
	fmt.Println("a -> c:", sp.Dist[c], "via", g.Vertices().String(sp.Parent[c]))
	bfs, _ := g.BFS(ctx, a)
	fmt.Println("edges from a to c:", bfs.Level[c])
	fmt.Println("strong components:", g.StrongComponents().Count)
	// Output:
	// a 0.3036
	// b 0.2956
	// c 0.3131
	// d 0.0877
	// a -> c: 3 via d
	// edges from a to c: 2
	// strong components: 1
}
