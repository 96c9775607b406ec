// Command windows runs the event-time window pipelines of windows.toml
// over real data, file-in/file-out with local.Run (the `pcs run`
// mode) and the built-in systems: flight delays per origin per hour
// (tumbling), per origin over 7 days sliding by a day, sessions of
// departures per origin, GitHub commits per day and average stock prices
// per symbol and calendar year. For each pipeline it prints rows in,
// windows out, late rows and the top rows of its output.
//
//	go run ./examples/windows [-data DIR] [-config FILE] [-out DIR]
//
// The data sets come from -data, else ../shared/data, else the small
// copies in testdata (the flights from examples/flights/testdata).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pcs-dev/pcs/local"
	"github.com/pcs-dev/pcs/plan"
)

type options struct {
	repo   string            // repository root
	config string            // the pipelines; default examples/windows/windows.toml
	data   map[string]string // data set file name (as input.files names it) -> path
	out    string            // output directory; a temporary one when empty
	top    int               // rows shown per pipeline
}

func main() {
	var o options
	var dataDir string
	flag.StringVar(&dataDir, "data", "", "directory with flights-3m.parquet, github.csv and stocks.csv (default ../shared/data, else testdata)")
	flag.StringVar(&o.config, "config", "", "pipelines (default examples/windows/windows.toml)")
	flag.StringVar(&o.out, "out", "", "keep the window outputs in this directory (default: a temporary one, removed)")
	flag.IntVar(&o.top, "top", 5, "rows shown per pipeline")
	flag.Parse()
	o.repo, _ = os.Getwd()
	o.data = findData(o.repo, dataDir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "windows:", err)
		os.Exit(1)
	}
}

// dataFiles are the data sets windows.toml reads, by file name, with the
// small stand-ins used when they are missing (relative to the repository).
var dataFiles = []struct{ name, fallback string }{
	{"flights-3m.parquet", "examples/flights/testdata/flights-50k.parquet"},
	{"github.csv", "examples/windows/testdata/github.csv"},
	{"stocks.csv", "examples/windows/testdata/stocks.csv"},
}

// findData maps each data set to the first of dir, ../shared/data beside
// the repository and the stand-in that has it.
func findData(repo, dir string) map[string]string {
	m := map[string]string{}
	for _, f := range dataFiles {
		m[f.name] = filepath.Join(repo, f.fallback)
		for _, d := range []string{dir, filepath.Join(repo, "..", "shared", "data")} {
			if p := filepath.Join(d, f.name); d != "" && exists(p) {
				m[f.name] = p
				break
			}
		}
	}
	return m
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// result is what one pipeline did.
type result struct {
	local.Stats
	Err error
}

// run runs every pipeline of the config in turn and prints its report. A
// pipeline that fails is reported and the others still run; the error
// joins the failures.
func run(ctx context.Context, o options, out io.Writer) ([]result, error) {
	if o.config == "" {
		o.config = filepath.Join(o.repo, "examples", "windows", "windows.toml")
	}
	if o.top <= 0 {
		o.top = 5
	}
	cfg, err := plan.LoadFile(o.config)
	if err != nil {
		return nil, err
	}
	if o.out == "" {
		tmp, err := os.MkdirTemp("", "pcs-windows-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		o.out = tmp
	} else if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	reg := plan.DefaultRegistry()
	var results []result
	var errs []error
	for _, pc := range cfg.Pipelines {
		// input.files name data sets; outputs go to o.out.
		for i, f := range pc.Input.Files {
			p, ok := o.data[filepath.Base(f)]
			if !ok {
				return results, fmt.Errorf("pipeline %q: input %q is none of the data sets %v", pc.Name, f, dataNames())
			}
			pc.Input.Files[i] = p
		}
		pc.Output.File = filepath.Join(o.out, filepath.Base(pc.Output.File))
		st, err := local.Run(ctx, []plan.Pipeline{pc}, reg, nil, nil)
		r := result{Err: err}
		if len(st) == 1 {
			r.Stats = st[0]
		}
		if err == nil {
			err = report(ctx, out, pc, r.Stats, o.top)
		}
		if err != nil {
			r.Err = err
			hint := ""
			if strings.Contains(err.Error(), `duration "1y"`) {
				hint = "\n  (calendar windows such as tumbling(1y) are not in this build of pcs/window yet)"
			}
			fmt.Fprintf(out, "%s: FAILED: %v%s\n\n", pc.Name, err, hint)
			errs = append(errs, fmt.Errorf("pipeline %q: %w", pc.Name, err))
		}
		results = append(results, r)
		if ctx.Err() != nil {
			break
		}
	}
	return results, errors.Join(errs...)
}

func dataNames() []string {
	var names []string
	for _, f := range dataFiles {
		names = append(names, f.name)
	}
	return names
}
