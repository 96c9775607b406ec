package main

import (
	"context"
	"fmt"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/pcs-dev/pcs/local"
	"github.com/pcs-dev/pcs/plan"
)

func (e *env) runCommand() *cobra.Command {
	var configPath string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "run --config pipeline.toml",
		Short: "Run pipelines file-in/file-out, with no broker",
		Long: `Run executes the [[pipeline]] sections of a config file locally: every batch
of input.files (Parquet, Arrow, CSV or JSONL; globs allowed) goes through the
pipeline's systems exactly as on pcs-node, and the output columns are written
to output.file (by extension). The pipeline section is the one pcs-node reads;
input.subjects and output.subject are ignored here.`,
		Example: `  pcs run --config examples/flights/node.toml   # with input.files and output.file set`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if configPath == "" {
				return usagef("run: --config is required")
			}
			return e.runLocal(cmd.Context(), configPath, quiet)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "pipeline config file (TOML; the pcs-node format)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress on stderr")
	return cmd
}

func (e *env) runLocal(ctx context.Context, configPath string, quiet bool) error {
	f, err := plan.LoadFile(configPath)
	if err != nil {
		return err
	}
	p := e.newProgress("run", -1, quiet)
	stats, err := local.Run(ctx, f.Pipelines, plan.DefaultRegistry(), nil, func(st local.Stats) { p.update(st.RowsIn, -1) })
	p.done()
	if err != nil { // the error alone: a partial summary would read as a result
		return err
	}
	for _, st := range stats {
		fmt.Fprintf(e.stdout, "%s: %d file(s), %s rows in, %s rows out to %s in %v (%s rows/s)\n",
			st.Pipeline, st.Files, humanize.Comma(st.RowsIn), humanize.Comma(st.RowsOut), st.Output,
			st.Elapsed.Round(time.Millisecond), rate(st.RowsIn, st.Elapsed))
	}
	return nil
}
