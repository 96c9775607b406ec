package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// LocalStats counts what RunLocal did for one pipeline.
type LocalStats struct {
	Pipeline        string
	Files           int   // input files read
	Batches         int   // input batches processed
	RowsIn, RowsOut int64 // rows read and written
	Elapsed         time.Duration
	Output          string // the output file
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
	sink, err := CreateFile(pc.Output.File, pl.outSchema, pc.Output)
	if err != nil {
		return st, err
	}
	defer func() {
		cerr := sink.Close(closeCtx(ctx, err))
		if err == nil {
			err = cerr
		}
	}()
	mem := memory.DefaultAllocator
	for _, path := range files {
		src, err := OpenFile(path)
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
			rows := rec.NumRows()
			out, err := pl.run(ctx, mem, path+"#"+strconv.Itoa(batch), rec)
			if err != nil {
				src.Close()
				return st, fmt.Errorf("%s: batch %d: %w", path, batch, err)
			}
			err = sink.Write(ctx, out)
			st.Batches++
			st.RowsIn += rows
			st.RowsOut += out.NumRows()
			out.Release()
			if err != nil {
				src.Close()
				return st, err
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
	if _, err := p.pipeline.Run(ctx, ds); err != nil {
		return nil, err
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
