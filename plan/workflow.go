package plan

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// WorkflowConfig is the [workflow] section of a pipeline file: how `pcs
// run` runs its pipelines as a DAG of steps (package local).
//
//	[workflow]
//	cpu = 2                 # pipelines of pool "cpu" running at once
//	io = 4                  # pipelines of pool "io" running at once
//	stop_on_failure = true  # a failed step cancels the others
//	retries = 1             # runs again after a failure, per step
//	backoff = "1s"          # first wait before a retry, doubling
//	max_backoff = "30s"
//	timeout = "10m"         # deadline of the whole run
type WorkflowConfig struct {
	// CPU and IO bound how many pipelines of each pool run at once;
	// default 2 and 4.
	CPU int `toml:"cpu"`
	IO  int `toml:"io"`
	// StopOnFailure: when a step fails (after its retries) the running
	// steps are cancelled and no other starts (default true). When false,
	// only the steps depending on it are skipped; the others still run.
	StopOnFailure *bool `toml:"stop_on_failure"`
	// Retries is each step's default of pipeline.retries; default 0.
	Retries int `toml:"retries"`
	// Backoff is the wait before a step's first retry, growing
	// exponentially (with jitter) up to MaxBackoff; default 1s and 30s.
	Backoff    Duration `toml:"backoff"`
	MaxBackoff Duration `toml:"max_backoff"`
	// Timeout, when set, is a deadline for the whole run: reaching it
	// cancels every step, as Ctrl-C does.
	Timeout Duration `toml:"timeout"`
}

// Stop reports stop_on_failure (default true).
func (w WorkflowConfig) Stop() bool { return w.StopOnFailure == nil || *w.StopOnFailure }

// SetupWorkflow fills the defaults of [workflow] and validates the DAG
// of the pipelines: depends_on naming no pipeline of the file, a
// pipeline depending on itself and cycles (through depends_on or
// input.files matching an output.file) are errors naming them; errors
// wrap ErrConfig. ParseFile calls it.
func (f *File) SetupWorkflow() error {
	w := &f.Workflow
	Def(&w.CPU, 2)
	Def(&w.IO, 4)
	Def(&w.Backoff, Duration(time.Second))
	Def(&w.MaxBackoff, Duration(30*time.Second))
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...)))
	}
	if w.CPU < 1 || w.IO < 1 {
		bad("workflow: cpu (%d) and io (%d) must be >= 1", w.CPU, w.IO)
	}
	if w.Retries < 0 {
		bad("workflow: retries %d < 0", w.Retries)
	}
	if w.Backoff <= 0 || w.MaxBackoff < w.Backoff {
		bad("workflow: want 0 < backoff (%v) <= max_backoff (%v)", time.Duration(w.Backoff), time.Duration(w.MaxBackoff))
	}
	if w.Timeout < 0 {
		bad("workflow: timeout %v < 0", time.Duration(w.Timeout))
	}
	names := map[string]bool{}
	for _, p := range f.Pipelines {
		names[p.Name] = true
	}
	for _, p := range f.Pipelines {
		for _, d := range p.DependsOn {
			switch {
			case d == p.Name:
				bad("pipeline %q: depends_on names itself", p.Name)
			case !names[d]:
				bad("pipeline %q: depends_on %q: no pipeline of that name", p.Name, d)
			}
		}
	}
	if len(errs) == 0 {
		if c := findCycle(f.Pipelines, f.Dependencies()); c != nil {
			bad("pipelines depend on each other in a cycle (depends_on, or input.files matching an output.file): %s", strings.Join(c, " -> "))
		}
	}
	return errors.Join(errs...)
}

// Dependencies returns, for each pipeline name, the pipelines it depends
// on, in file order: those of depends_on and those whose output.file one
// of its input.files names or matches (as a glob). Paths compare after
// filepath.Clean, so call it on paths resolved alike (LoadFile resolves
// every one against the file's directory).
func (f File) Dependencies() map[string][]string {
	deps := map[string][]string{}
	for _, p := range f.Pipelines {
		var d []string
		for _, q := range f.Pipelines {
			if q.Name == p.Name {
				continue
			}
			if slices.Contains(p.DependsOn, q.Name) || (q.Output.File != "" && readsFile(p.Input.Files, q.Output.File)) {
				d = append(d, q.Name)
			}
		}
		deps[p.Name] = d
	}
	return deps
}

// readsFile reports whether one of the input patterns names or matches
// file.
func readsFile(patterns []string, file string) bool {
	file = filepath.Clean(file)
	for _, p := range patterns {
		p = filepath.Clean(p)
		if p == file {
			return true
		}
		if ok, err := filepath.Match(p, file); err == nil && ok {
			return true
		}
	}
	return false
}

// findCycle returns a cycle of deps as names, first repeated last, or nil.
func findCycle(ps []Pipeline, deps map[string][]string) []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(n string) []string
	visit = func(n string) []string {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range deps[n] {
			switch color[d] {
			case grey:
				i := slices.Index(stack, d)
				return append(slices.Clone(stack[i:]), d)
			case white:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return nil
	}
	for _, p := range ps {
		if color[p.Name] == white {
			if c := visit(p.Name); c != nil {
				return c
			}
		}
	}
	return nil
}
