package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/util"

	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports"
)

// Stats counts what Run did for one pipeline.
type Stats struct {
	Pipeline        string
	Files           int   // input files read
	Batches         int   // input batches processed
	RowsIn, RowsOut int64 // rows read and written
	// BytesIn is the Arrow (in-memory) size of the batches read.
	BytesIn int64
	// TotalRows is the rows of input.files when known before reading
	// (every file Parquet: their footers), else -1; with RowsIn it gives
	// the percent done.
	TotalRows int64
	Elapsed   time.Duration
	Output    string // the output file
	// LateRows went to the late file (pipelines ending with a window):
	// rows later than their windows' allowed lateness.
	LateRows int64
}

// localOutput writes a local run's results: the output file, and for a
// window pipeline the late file, created on the first late row.
type localOutput struct {
	sink       transports.Sink
	late       transports.Sink
	latePath   string
	lateSchema *arrow.Schema
	st         *Stats
}

// lateFile is output.late_file, default the output file's name with
// ".late" before its extension.
func lateFile(o plan.OutputConfig) string {
	if o.LateFile != "" {
		return o.LateFile
	}
	ext := filepath.Ext(o.File)
	return strings.TrimSuffix(o.File, ext) + ".late" + ext
}

// put writes out's results and late rows and releases them.
func (o *localOutput) put(ctx context.Context, out plan.Output) error {
	defer out.Release()
	if r := out.Results; r != nil {
		o.st.RowsOut += r.NumRows()
		if err := o.sink.Write(ctx, r); err != nil {
			return err
		}
	}
	if l := out.Late; l != nil && l.NumRows() > 0 {
		if o.late == nil {
			sink, err := createOutput(o.latePath, o.lateSchema, plan.OutputConfig{})
			if err != nil {
				return fmt.Errorf("late file: %w", err)
			}
			o.late = sink
		}
		o.st.LateRows += l.NumRows()
		if err := o.late.Write(ctx, l); err != nil {
			return fmt.Errorf("late file: %w", err)
		}
	}
	return nil
}

func (o *localOutput) close(ctx context.Context) error {
	err := o.sink.Close(ctx)
	if o.late != nil {
		err = errors.Join(err, o.late.Close(ctx))
	}
	return err
}

// Run runs each pipeline file-in/file-out with no broker (the `pcs run`
// mode): every batch of input.files becomes one partition of the same
// plan.Plan a pcs-node builds from the same pipeline section (components,
// systems, resources, window), and its output rows are written to
// output.file (late rows of a window to output.late_file). progress, if
// not nil, is called after each batch. A batch that does not fit the
// input component, or a system's failure after its retries, stops the
// run with an error naming the file and batch; the output file is then
// removed, not left partial. Errors wrap plan.ErrConfig for a pipeline
// without input.files or output.file.
func Run(ctx context.Context, ps []plan.Pipeline, reg *plan.Registry, log *slog.Logger, progress func(Stats)) ([]Stats, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var all []Stats
	for _, pc := range ps {
		if len(pc.Input.Files) == 0 || pc.Output.File == "" {
			return all, fmt.Errorf("%w: pipeline %q: pcs run needs input.files and output.file", plan.ErrConfig, pc.Name)
		}
		st, err := run(ctx, pc, reg, log.With("pipeline", pc.Name), progress)
		all = append(all, st)
		if err != nil {
			return all, fmt.Errorf("local: pipeline %q: %w", pc.Name, err)
		}
	}
	return all, nil
}

func run(ctx context.Context, pc plan.Pipeline, reg *plan.Registry, log *slog.Logger, progress func(Stats)) (st Stats, err error) {
	start := time.Now()
	st = Stats{Pipeline: pc.Name, Output: pc.Output.File, TotalRows: -1}
	defer func() { st.Elapsed = time.Since(start) }()
	pl, err := plan.Build(ctx, pc, reg, plan.WithoutShards())
	if err != nil {
		return st, err
	}
	defer func() {
		if cerr := pl.Close(); err == nil {
			err = cerr
		}
	}()
	files, err := expandFiles(pc.Input.Files)
	if err != nil {
		return st, err
	}
	st.TotalRows = inputRows(files)
	sink, err := createOutput(pc.Output.File, pl.OutputSchema(), pc.Output)
	if err != nil {
		return st, err
	}
	out := &localOutput{sink: sink, st: &st}
	if pl.LateSchema() != nil {
		out.latePath, out.lateSchema = lateFile(pc.Output), pl.LateSchema()
	}
	defer func() {
		cerr := out.close(closeCtx(ctx, err))
		if err == nil {
			err = cerr
		}
	}()
	for _, path := range files {
		src, err := openInput(path, pl.InputSchema())
		if err != nil {
			return st, err
		}
		st.Files++
		in := prefetch(ctx, src, prefetchBatches)
		for batch := 0; ; batch++ {
			rec, err := in.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				in.stop()
				src.Close()
				return st, fmt.Errorf("%s: %w", path, err)
			}
			st.Batches++
			st.RowsIn += rec.NumRows()
			st.BytesIn += util.TotalRecordSize(rec)
			res, err := pl.Step(ctx, plan.Input{ID: path + "#" + strconv.Itoa(batch), Source: "input", Batches: []arrow.RecordBatch{rec}})
			if err == nil {
				err = out.put(ctx, res)
			}
			if err != nil {
				in.stop()
				src.Close()
				return st, fmt.Errorf("%s: batch %d: %w", path, batch, err)
			}
			if progress != nil {
				st.Elapsed = time.Since(start)
				progress(st)
			}
		}
		in.stop()
		if err := src.Close(); err != nil {
			return st, err
		}
	}
	// End of input: the final watermark fires every window.
	fired, err := pl.Flush(ctx)
	if err == nil {
		err = out.put(ctx, fired)
	}
	if err != nil {
		return st, err
	}
	log.Info("pipeline done", "files", st.Files, "rows_in", st.RowsIn, "rows_out", st.RowsOut, "output", st.Output)
	return st, nil
}

// closeCtx is the ctx to close a sink with: a cancelled one after a
// failure, so the sink removes its partial file.
func closeCtx(ctx context.Context, failed error) context.Context {
	if failed == nil {
		return ctx
	}
	c, cancel := context.WithCancel(ctx)
	cancel()
	return c
}
