package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/plan"
)

// ErrCancelled: the run was cancelled (its ctx ended: Ctrl-C, or the
// [workflow] timeout) before every step finished. The steps running then
// were stopped and their partial outputs removed.
var ErrCancelled = errors.New("local: run cancelled")

// StepStatus is how a step of a workflow ended.
type StepStatus string

const (
	// StepSucceeded: the pipeline ran to the end and its output is in place.
	StepSucceeded StepStatus = "succeeded"
	// StepFailed: the pipeline failed on its last attempt; its partial
	// output was removed.
	StepFailed StepStatus = "failed"
	// StepCancelled: the run was cancelled (ctx, or another step's failure
	// with stop_on_failure) before the step finished, or before it started.
	StepCancelled StepStatus = "cancelled"
	// StepSkipped: a step it depends on did not succeed, so it never ran.
	StepSkipped StepStatus = "skipped"
)

// StepReport is one step of a Report: a pipeline of the file.
type StepReport struct {
	Name      string     `json:"name"`
	Status    StepStatus `json:"status"`
	Pool      string     `json:"pool"`
	DependsOn []string   `json:"depends_on"`
	// Retries is how many times the step ran again after a failure.
	Retries int     `json:"retries"`
	Files   int     `json:"files"`
	RowsIn  int64   `json:"rows_in"`
	RowsOut int64   `json:"rows_out"`
	BytesIn int64   `json:"bytes_in"`
	Seconds float64 `json:"seconds"` // of its last attempt
	Output  string  `json:"output,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// Report is what RunWorkflow did, step by step in the file's order; it
// marshals as the JSON run report of `pcs run --report`.
type Report struct {
	// Status is "succeeded" (every step did), "failed" or "cancelled".
	Status  string       `json:"status"`
	Started time.Time    `json:"started"`
	Seconds float64      `json:"seconds"`
	Steps   []StepReport `json:"steps"`
}

// PlanStep is a step of the DAG in the order RunWorkflow may start
// them: Level 0 depends on nothing, level n on steps of lower levels.
type PlanStep struct {
	Name      string
	Level     int
	Pool      string
	DependsOn []string
	Retries   int
	Inputs    []string // input.files
	Output    string   // output.file
}

// Plan returns the DAG of f's pipelines (plan.File.Dependencies) sorted
// by level, then file order. f must have passed SetupWorkflow (LoadFile
// and ParseFile call it): Plan does not look for cycles.
func Plan(f plan.File) []PlanStep {
	deps := f.Dependencies()
	level := map[string]int{}
	var lvl func(n string) int
	lvl = func(n string) int {
		if l, ok := level[n]; ok {
			return l
		}
		l := 0
		for _, d := range deps[n] {
			l = max(l, lvl(d)+1)
		}
		level[n] = l
		return l
	}
	var out []PlanStep
	for _, p := range f.Pipelines {
		out = append(out, PlanStep{Name: p.Name, Level: lvl(p.Name), Pool: p.Pool, DependsOn: deps[p.Name],
			Retries: retries(f.Workflow, p), Inputs: p.Input.Files, Output: p.Output.File})
	}
	slices.SortStableFunc(out, func(a, b PlanStep) int { return a.Level - b.Level })
	return out
}

func retries(w plan.WorkflowConfig, p plan.Pipeline) int {
	if p.Retries != nil {
		return *p.Retries
	}
	return w.Retries
}

// RunWorkflow runs the pipelines of f as a DAG of steps (Plan): a step
// starts once every step it depends on succeeded and its pool ([workflow]
// cpu or io) has a free slot; steps on no path between them run at once.
// Each step is Run's work on one pipeline; a failed attempt removes its
// partial output and, while retries are left, waits (exponential backoff
// from [workflow] backoff up to max_backoff, with jitter) and runs again;
// a config error is not retried.
//
// When a step fails for good, its dependents are skipped; with
// stop_on_failure (the default) the running steps are cancelled and no
// other starts. When ctx ends (or the [workflow] timeout passes), every
// running step stops, removes its partial output, and RunWorkflow returns
// an error wrapping ErrCancelled. Other failures return the steps' errors
// joined. The Report covers every step in every case.
//
// progress, if not nil, is called after each batch of each step with
// that step's Stats; calls are serialized, never concurrent.
func RunWorkflow(ctx context.Context, f plan.File, reg *plan.Registry, log *slog.Logger, progress func(Stats)) (Report, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rep := Report{Started: time.Now()}
	if err := f.SetupWorkflow(); err != nil {
		rep.Status = string(StepFailed)
		return rep, err
	}
	for _, pc := range f.Pipelines {
		if len(pc.Input.Files) == 0 || pc.Output.File == "" {
			rep.Status = string(StepFailed)
			return rep, fmt.Errorf("%w: pipeline %q: pcs run needs input.files and output.file", plan.ErrConfig, pc.Name)
		}
	}
	w := f.Workflow
	if w.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, time.Duration(w.Timeout), fmt.Errorf("[workflow] timeout %v passed", time.Duration(w.Timeout)))
		defer cancel()
	}
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	pools := map[string]chan struct{}{"cpu": make(chan struct{}, w.CPU), "io": make(chan struct{}, w.IO)}
	deps := f.Dependencies()
	done := map[string]chan struct{}{}
	for _, p := range f.Pipelines {
		done[p.Name] = make(chan struct{})
	}
	rep.Steps = make([]StepReport, len(f.Pipelines))
	index := map[string]int{}
	var mu sync.Mutex // guards rep.Steps' statuses read by dependents, and progress
	var failures []error
	report := func(st Stats) {
		if progress == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		progress(st)
	}
	var wg sync.WaitGroup
	for i, pc := range f.Pipelines {
		index[pc.Name] = i
		rep.Steps[i] = StepReport{Name: pc.Name, Pool: pc.Pool, DependsOn: deps[pc.Name], Output: pc.Output.File}
		if rep.Steps[i].DependsOn == nil {
			rep.Steps[i].DependsOn = []string{}
		}
	}
	for i, pc := range f.Pipelines {
		wg.Go(func() {
			defer close(done[pc.Name])
			sr := &rep.Steps[i]
			lg := log.With("pipeline", pc.Name)
			status, err := runStep(runCtx, pc, deps[pc.Name], done, pools[pc.Pool], retries(w, pc), w, sr, &mu, index, rep.Steps, reg, lg, report)
			mu.Lock()
			defer mu.Unlock()
			sr.Status = status
			if err != nil {
				sr.Error = err.Error()
			}
			if status == StepFailed {
				failures = append(failures, fmt.Errorf("local: pipeline %q: %w", pc.Name, err))
				if w.Stop() {
					stop(fmt.Errorf("pipeline %q failed", pc.Name))
				}
			}
		})
	}
	wg.Wait()
	rep.Seconds = time.Since(rep.Started).Seconds()
	switch {
	case ctx.Err() != nil:
		rep.Status = string(StepCancelled)
		return rep, fmt.Errorf("%w: %w", ErrCancelled, context.Cause(ctx))
	case len(failures) > 0:
		rep.Status = string(StepFailed)
		return rep, errors.Join(failures...)
	}
	rep.Status = string(StepSucceeded)
	return rep, nil
}

// runStep waits for pc's dependencies and a slot of its pool, then runs
// it with its retries, filling sr's counters; it returns the step's status
// and its last error.
func runStep(ctx context.Context, pc plan.Pipeline, deps []string, done map[string]chan struct{}, pool chan struct{},
	retries int, w plan.WorkflowConfig, sr *StepReport, mu *sync.Mutex, index map[string]int, steps []StepReport,
	reg *plan.Registry, log *slog.Logger, progress func(Stats)) (StepStatus, error) {
	// Every dependency ends, also on cancellation (a waiting step then
	// ends cancelled), so waiting on them alone cannot hang.
	for _, d := range deps {
		<-done[d]
		mu.Lock()
		st := steps[index[d]].Status
		mu.Unlock()
		switch st {
		case StepSucceeded:
		case StepCancelled:
			return StepCancelled, nil
		default:
			return StepSkipped, fmt.Errorf("pipeline %q %s", d, st)
		}
	}
	select {
	case pool <- struct{}{}:
		defer func() { <-pool }()
	case <-ctx.Done():
		return StepCancelled, nil
	}
	if ctx.Err() != nil {
		return StepCancelled, nil
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.Multiplier = time.Duration(w.Backoff), time.Duration(w.MaxBackoff), 2
	attempts := 0
	var last error
	_, err := backoff.Retry(ctx, func() (Stats, error) {
		attempts++
		log.Info("step started", "attempt", attempts)
		st, err := run(ctx, pc, reg, log, progress)
		mu.Lock()
		sr.Files, sr.RowsIn, sr.RowsOut, sr.BytesIn, sr.Seconds = st.Files, st.RowsIn, st.RowsOut, st.BytesIn, st.Elapsed.Seconds()
		sr.Retries = attempts - 1
		mu.Unlock()
		last = err
		if err != nil && (ctx.Err() != nil || retryCannotFix(err)) {
			return st, backoff.Permanent(err)
		}
		if err != nil {
			log.Warn("step failed", "attempt", attempts, "err", err)
		}
		return st, err
	}, backoff.WithBackOff(b), backoff.WithMaxTries(uint(retries)+1),
		backoff.WithMaxElapsedTime(0)) // the default stops retrying after 15 minutes
	switch {
	case err == nil:
		return StepSucceeded, nil
	case ctx.Err() != nil:
		if last == nil {
			last = context.Cause(ctx)
		}
		return StepCancelled, last
	}
	return StepFailed, last
}

// retryCannotFix reports whether running a step again cannot fix err: the
// config, a name the registry lacks, input that does not fit the input
// component, or an error a system marked permanent.
func retryCannotFix(err error) bool {
	return errors.Is(err, plan.ErrConfig) || errors.Is(err, plan.ErrUnknownName) || errors.Is(err, plan.ErrSchema) || pcs.IsPermanent(err)
}
