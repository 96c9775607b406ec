// Command graph runs the graph pipelines of graph.toml over the airport
// network of flights-3m (origin -> destination, one edge per flight),
// file-in/file-out with local.Run (the `pcs run` mode): PageRank of the
// airports and their weakly connected components. It prints the top
// airports by rank and the components' sizes.
//
//	go run ./examples/graph [-data DIR] [-config FILE] [-out DIR] [-top N]
//
// The flights come from -data, else ../shared/data, else the 50k-row
// slice in examples/flights/testdata.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/pcs-dev/pcs/local"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/files"
)

type options struct {
	repo    string // repository root
	config  string // default examples/graph/graph.toml
	flights string // the flights file
	out     string // output directory; a temporary one when empty
	top     int    // airports shown
}

func main() {
	var o options
	var dataDir string
	flag.StringVar(&dataDir, "data", "", "directory with flights-3m.parquet (default ../shared/data, else the 50k slice)")
	flag.StringVar(&o.config, "config", "", "pipelines (default examples/graph/graph.toml)")
	flag.StringVar(&o.out, "out", "", "keep the outputs in this directory (default: a temporary one, removed)")
	flag.IntVar(&o.top, "top", 10, "airports shown")
	flag.Parse()
	o.repo, _ = os.Getwd()
	o.flights = findFlights(o.repo, dataDir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "graph:", err)
		os.Exit(1)
	}
}

// findFlights returns the first of dir/flights-3m.parquet,
// ../shared/data/flights-3m.parquet and the 50k slice that exists.
func findFlights(repo, dir string) string {
	for _, d := range []string{dir, filepath.Join(repo, "..", "shared", "data")} {
		p := filepath.Join(d, "flights-3m.parquet")
		if _, err := os.Stat(p); d != "" && err == nil {
			return p
		}
	}
	return filepath.Join(repo, "examples", "flights", "testdata", "flights-50k.parquet")
}

// Report is what a run computed: each airport's rank and component, and
// the stats of each pipeline.
type Report struct {
	Rank      map[string]float64
	Component map[string]int64
	Stats     []local.Stats
}

// run runs the pipelines of the config and prints the top airports by
// PageRank and the components' sizes.
func run(ctx context.Context, o options, out io.Writer) (*Report, error) {
	if o.config == "" {
		o.config = filepath.Join(o.repo, "examples", "graph", "graph.toml")
	}
	if o.top <= 0 {
		o.top = 10
	}
	cfg, err := plan.LoadFile(o.config)
	if err != nil {
		return nil, err
	}
	if o.out == "" {
		tmp, err := os.MkdirTemp("", "pcs-graph-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		o.out = tmp
	} else if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	rep := &Report{Rank: map[string]float64{}, Component: map[string]int64{}}
	for _, pc := range cfg.Pipelines {
		pc.Input.Files = []string{o.flights}
		pc.Output.File = filepath.Join(o.out, filepath.Base(pc.Output.File))
		t0 := time.Now()
		st, err := local.Run(ctx, []plan.Pipeline{pc}, plan.DefaultRegistry(), nil, nil)
		if err != nil {
			return rep, err
		}
		rep.Stats = append(rep.Stats, st...)
		fmt.Fprintf(out, "%s: %d flights (edges) -> %d airports in %v\n", pc.Name, st[0].RowsIn, st[0].RowsOut, time.Since(t0).Round(time.Millisecond))
		if err := readResult(ctx, pc.Output.File, rep); err != nil {
			return rep, err
		}
	}
	printReport(out, rep, o.top)
	return rep, nil
}

// readResult reads a result file (vertex plus rank or component) into rep.
func readResult(ctx context.Context, path string, rep *Report) error {
	src, err := files.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	for {
		rec, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		v := rec.Column(0).(*array.String)
		for i := range v.Len() {
			switch c := rec.Column(1).(type) {
			case *array.Float64:
				rep.Rank[v.Value(i)] = c.Value(i)
			case *array.Int64:
				rep.Component[v.Value(i)] = c.Value(i)
			}
		}
		rec.Release()
	}
}

// TopAirports returns the n airports of highest rank, highest first
// (ties by name).
func (r *Report) TopAirports(n int) []string {
	names := make([]string, 0, len(r.Rank))
	for a := range r.Rank {
		names = append(names, a)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(r.Rank[b], r.Rank[a]), cmp.Compare(a, b))
	})
	return names[:min(n, len(names))]
}

// ComponentSizes returns the components' sizes, largest first.
func (r *Report) ComponentSizes() []int {
	count := map[int64]int{}
	for _, c := range r.Component {
		count[c]++
	}
	var sizes []int
	for _, n := range count {
		sizes = append(sizes, n)
	}
	slices.SortFunc(sizes, func(a, b int) int { return b - a })
	return sizes
}

func printReport(out io.Writer, r *Report, top int) {
	fmt.Fprintf(out, "\ntop %d airports by PageRank (flights as weights):\n", top)
	for i, a := range r.TopAirports(top) {
		fmt.Fprintf(out, "%3d. %-4s %.6f\n", i+1, a, r.Rank[a])
	}
	sizes := r.ComponentSizes()
	fmt.Fprintf(out, "\n%d weakly connected components; sizes %v\n", len(sizes), sizes[:min(10, len(sizes))])
}
