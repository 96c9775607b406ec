package node

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
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/window"
	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/parquet"
)

// LocalStats counts what RunLocal did for one pipeline.
type LocalStats struct {
	Pipeline        string
	Files           int   // input files read
	Batches         int   // input batches processed
	RowsIn, RowsOut int64 // rows read and written
	Elapsed         time.Duration
	Output          string // the output file
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
	st         *LocalStats
}

// lateFile is output.late_file, default the output file's name with
// ".late" before its extension.
func lateFile(o OutputConfig) string {
	if o.LateFile != "" {
		return o.LateFile
	}
	ext := filepath.Ext(o.File)
	return strings.TrimSuffix(o.File, ext) + ".late" + ext
}

// write writes the pipeline's output batch res (released here), through
// the window operator op when there is one.
func (o *localOutput) write(ctx context.Context, op *window.Operator, res arrow.RecordBatch) error {
	if op == nil {
		return o.put(ctx, window.Output{Results: res})
	}
	fired, err := op.Process(ctx, "input", res)
	res.Release()
	if err != nil {
		return err
	}
	return o.put(ctx, fired)
}

// put writes out's results and late rows and releases them.
func (o *localOutput) put(ctx context.Context, out window.Output) error {
	defer out.Release()
	if r := out.Results; r != nil {
		o.st.RowsOut += r.NumRows()
		if err := o.sink.Write(ctx, r); err != nil {
			return err
		}
	}
	if l := out.Late; l != nil && l.NumRows() > 0 {
		if o.late == nil {
			sink, err := CreateFile(o.latePath, o.lateSchema, OutputConfig{})
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

// RunLocal runs each pipeline of cfg file-in/file-out with no broker (the
// `pcs run` mode): every batch of input.files becomes one dataset, goes
// through the same plan a pcs-node would build from the same pipeline
// section (components, systems, resources), is compacted, and its output
// columns are written to output.file. progress, if not nil, is called
// after each batch. A batch that does not fit the input component, or a
// system's failure after its retries, stops the run with an error naming
// the file and batch; the output file is then removed, not left partial.
func RunLocal(ctx context.Context, cfg Config, reg *Registry, log *slog.Logger, progress func(LocalStats)) ([]LocalStats, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var all []LocalStats
	for _, pc := range cfg.Pipelines {
		if len(pc.Input.Files) == 0 || pc.Output.File == "" {
			return all, fmt.Errorf("%w: pipeline %q: pcs run needs input.files and output.file", ErrConfig, pc.Name)
		}
		st, err := runLocal(ctx, pc, reg, log.With("pipeline", pc.Name), progress)
		all = append(all, st)
		if err != nil {
			return all, fmt.Errorf("node: pipeline %q: %w", pc.Name, err)
		}
	}
	return all, nil
}

func runLocal(ctx context.Context, pc PipelineConfig, reg *Registry, log *slog.Logger, progress func(LocalStats)) (st LocalStats, err error) {
	start := time.Now()
	st = LocalStats{Pipeline: pc.Name, Output: pc.Output.File}
	defer func() { st.Elapsed = time.Since(start) }()
	pl, err := newPlan(ctx, pc, reg)
	if err != nil {
		return st, err
	}
	files, err := expandFiles(pc.Input.Files)
	if err != nil {
		return st, err
	}
	op, err := pl.newWindow(memory.DefaultAllocator)
	if err != nil {
		return st, err
	}
	sink, err := CreateFile(pc.Output.File, pl.outSchema, pc.Output)
	if err != nil {
		return st, err
	}
	out := &localOutput{sink: sink, st: &st}
	if op != nil {
		out.latePath, out.lateSchema = lateFile(pc.Output), pl.windowIn
	}
	defer func() {
		cerr := out.close(closeCtx(ctx, err))
		if err == nil {
			err = cerr
		}
	}()
	mem := memory.DefaultAllocator
	for _, path := range files {
		src, err := openInput(path, pl.input.Schema())
		if err != nil {
			return st, err
		}
		st.Files++
		for batch := 0; ; batch++ {
			rec, err := src.Read(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				src.Close()
				return st, fmt.Errorf("%s: %w", path, err)
			}
			st.Batches++
			st.RowsIn += rec.NumRows()
			res, err := pl.run(ctx, mem, path+"#"+strconv.Itoa(batch), rec)
			if err == nil {
				err = out.write(ctx, op, res)
			}
			if err != nil {
				src.Close()
				return st, fmt.Errorf("%s: batch %d: %w", path, batch, err)
			}
			if progress != nil {
				st.Elapsed = time.Since(start)
				progress(st)
			}
		}
		if err := src.Close(); err != nil {
			return st, err
		}
	}
	if op != nil { // end of input: the final watermark fires every window
		fired, err := op.Flush(ctx)
		if err != nil {
			return st, err
		}
		if err := out.put(ctx, fired); err != nil {
			return st, err
		}
	}
	log.Info("pipeline done", "files", st.Files, "rows_in", st.RowsIn, "rows_out", st.RowsOut, "output", st.Output)
	return st, nil
}

// run processes one input batch (released here), partition id, into its output batch
// (the caller releases it).
func (p *plan) run(ctx context.Context, mem memory.Allocator, id string, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	ds, err := p.dataset(ctx, mem, id, []arrow.RecordBatch{rec})
	if err != nil {
		return nil, err
	}
	defer ds.Release()
	if p.pipeline != nil {
		if _, err := p.pipeline.Run(ctx, ds); err != nil {
			return nil, err
		}
	}
	if err := ds.Compact(ctx); err != nil {
		return nil, err
	}
	return p.output(ds), nil
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

// openInput opens an input file of `pcs run`; a Parquet file is read with
// only the input component's columns (the others would be dropped by
// conform anyway).
func openInput(path string, schema *arrow.Schema) (transports.Source, error) {
	if strings.ToLower(filepath.Ext(path)) != ".parquet" {
		return OpenFile(path)
	}
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
	}
	return parquet.NewSource(path, parquet.WithColumns(names...), parquet.WithParallel(true))
}
