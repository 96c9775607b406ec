package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/pcs-dev/pcs/local"
	"github.com/pcs-dev/pcs/plan"
)

type runOptions struct {
	config string
	quiet  bool
	plan   bool
	report string
}

func (e *env) runCommand() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run --config pipeline.toml",
		Short: "Run pipelines file-in/file-out, with no broker",
		Long: `Run executes the [[pipeline]] sections of a config file locally: every batch
of input.files (Parquet, Arrow, CSV or JSONL; globs allowed) goes through the
pipeline's systems exactly as on pcs-node, and the output columns are written
to output.file (by extension). The pipeline section is the one pcs-node reads;
input.subjects and output.subject are ignored here.

Several pipelines run as a workflow (docs/workflows.md): a pipeline starts
after those it names in depends_on and those whose output.file its
input.files read; independent ones run at once, as many as the [workflow]
cpu and io pools allow. A failed step is retried (retries, backoff); Ctrl-C
or the [workflow] timeout stops every step, removes partial outputs and
exits 1 with "run cancelled". --plan prints the DAG without running it;
--report writes a JSON report of every step.`,
		Example: `  pcs run --config examples/flights/node.toml   # with input.files and output.file set
  pcs run --config workflow.toml --plan
  pcs run --config workflow.toml --report report.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.config == "" {
				return usagef("run: --config is required")
			}
			return e.runLocal(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.config, "config", "c", "", "pipeline config file (TOML; the pcs-node format)")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "no progress on stderr")
	cmd.Flags().BoolVar(&o.plan, "plan", false, "print the pipelines' DAG (order, pools, dependencies) and exit without running")
	cmd.Flags().StringVar(&o.report, "report", "", "write a JSON run report (per step: status, rows, time, retries) to this file")
	return cmd
}

func (e *env) runLocal(ctx context.Context, o runOptions) error {
	f, err := plan.LoadFile(o.config)
	if err != nil {
		return err
	}
	if o.plan {
		printPlan(e.stdout, f, filepath.Dir(o.config))
		return nil
	}
	p := newStepProgress(e.stderr, e.progressEvery, o.quiet || len(f.Pipelines) == 1 && !e.tty)
	if len(f.Pipelines) == 1 { // one step: the rows bar of the other commands
		p.bar = e.newProgress("run", -1, o.quiet)
	}
	rep, err := local.RunWorkflow(ctx, f, plan.DefaultRegistry(), nil, p.update)
	p.done()
	if o.report != "" {
		if werr := writeReport(o.report, rep); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	if errors.Is(err, local.ErrCancelled) {
		return errors.New("run cancelled: " + strings.TrimPrefix(err.Error(), local.ErrCancelled.Error()+": "))
	}
	if err != nil { // the error alone: a partial summary would read as a result
		return err
	}
	for _, st := range rep.Steps {
		el := time.Duration(st.Seconds * float64(time.Second))
		retried := ""
		if st.Retries > 0 {
			retried = " after " + retriesText(st.Retries)
		}
		fmt.Fprintf(e.stdout, "%s: %d file(s), %s rows in, %s rows out to %s in %v (%s rows/s)%s\n",
			st.Name, st.Files, humanize.Comma(st.RowsIn), humanize.Comma(st.RowsOut), st.Output,
			el.Round(time.Millisecond), rate(st.RowsIn, el), retried)
	}
	return nil
}

func writeReport(path string, rep local.Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("run: --report: %w", err)
	}
	return nil
}

// printPlan writes the DAG of f, one step a line in the order steps may
// start: its level, name, pool, retries, the steps it waits for, and its
// files relative to dir (the config file's directory).
func printPlan(w io.Writer, f plan.File, dir string) {
	rel := func(p string) string {
		if r, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return p
	}
	stop := "stop_on_failure"
	if !f.Workflow.Stop() {
		stop = "keep going on failure"
	}
	fmt.Fprintf(w, "workflow: %s, pools cpu %d io %d, %s\n", plural(int64(len(f.Pipelines)), "step"), f.Workflow.CPU, f.Workflow.IO, stop)
	for _, s := range local.Plan(f) {
		after := "(start)"
		if len(s.DependsOn) > 0 {
			after = "after " + strings.Join(s.DependsOn, ", ")
		}
		in := make([]string, len(s.Inputs))
		for i, p := range s.Inputs {
			in[i] = rel(p)
		}
		fmt.Fprintf(w, "  %d %s [%s, %s] %s: %s -> %s\n", s.Level, s.Name, s.Pool, retriesText(s.Retries), after, strings.Join(in, ", "), rel(s.Output))
	}
}

func retriesText(n int) string {
	if n == 1 {
		return "1 retry"
	}
	return fmt.Sprintf("%d retries", n)
}

// stepProgress shows the progress of each running step on stderr: a line
// per step that moved (rows, bytes, percent of input where known) every
// few seconds, or a single step's bar; nothing when quiet. RunWorkflow
// serializes its calls.
type stepProgress struct {
	w     io.Writer
	every time.Duration
	quiet bool
	bar   *progress // one step: the usual bar or lines
	last  time.Time
	steps map[string]local.Stats
	order []string
	dirty map[string]bool
}

func newStepProgress(w io.Writer, every time.Duration, quiet bool) *stepProgress {
	return &stepProgress{w: w, every: every, quiet: quiet, last: time.Now(), steps: map[string]local.Stats{}, dirty: map[string]bool{}}
}

func (p *stepProgress) update(st local.Stats) {
	if p.bar != nil {
		p.bar.update(st.RowsIn, st.BytesIn)
		return
	}
	if p.quiet {
		return
	}
	if _, ok := p.steps[st.Pipeline]; !ok {
		p.order = append(p.order, st.Pipeline)
	}
	p.steps[st.Pipeline], p.dirty[st.Pipeline] = st, true
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	for _, name := range p.order {
		if p.dirty[name] {
			fmt.Fprintln(p.w, stepLine(p.steps[name]))
			p.dirty[name] = false
		}
	}
}

// stepLine is "run NAME: ROWS rows, BYTES[, PCT%], RATE rows/s, ELAPSED".
func stepLine(st local.Stats) string {
	s := fmt.Sprintf("run %s: %s rows, %s", st.Pipeline, humanize.Comma(st.RowsIn), humanize.IBytes(uint64(max(st.BytesIn, 0))))
	if st.TotalRows > 0 {
		s += fmt.Sprintf(", %.0f%%", 100*float64(st.RowsIn)/float64(st.TotalRows))
	}
	return s + fmt.Sprintf(", %s rows/s, %s", rate(st.RowsIn, st.Elapsed), roundDuration(st.Elapsed))
}

func (p *stepProgress) done() {
	if p.bar != nil {
		p.bar.done()
	}
}
