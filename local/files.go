package local

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/arrowfile"
	"github.com/pcs-dev/pcs/transports/csv"
	"github.com/pcs-dev/pcs/transports/jsonl"
	"github.com/pcs-dev/pcs/transports/parquet"
)

// OpenFile opens a file source by its extension: .parquet, .arrow /
// .arrows / .ipc / .feather (Arrow IPC file or stream), .csv, .jsonl /
// .ndjson. The caller closes it.
func OpenFile(path string) (transports.Source, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".parquet":
		return parquet.NewSource(path)
	case ".arrow", ".arrows", ".ipc", ".feather":
		return arrowfile.NewSource(path)
	case ".csv":
		return csv.NewSource(path)
	case ".jsonl", ".ndjson":
		return jsonl.NewSource(path)
	}
	return nil, fmt.Errorf("%w: %s: unknown file type (want .parquet, .arrow, .arrows, .csv or .jsonl)", plan.ErrConfig, path)
}

// CreateFile creates a file sink for schema by the path's extension (as
// OpenFile; .arrows writes the IPC stream format). Files appear under
// their name only when complete (atomic rename) where the format supports
// it. out's PartitionBy, RollRows and RollBytes apply to Parquet only;
// with another format they are an plan.ErrConfig error. The caller closes it.
func CreateFile(path string, schema *arrow.Schema, out plan.OutputConfig) (transports.Sink, error) {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".parquet" && (len(out.PartitionBy) > 0 || out.RollRows > 0 || out.RollBytes > 0) {
		return nil, fmt.Errorf("%w: %s: output.partition_by, roll_rows and roll_bytes need a .parquet file", plan.ErrConfig, path)
	}
	switch ext {
	case ".parquet":
		opts := []parquet.SinkOption{parquet.WithAtomicRename(true)}
		if len(out.PartitionBy) > 0 {
			opts = append(opts, parquet.WithPartitionBy(out.PartitionBy...))
		}
		if out.RollRows > 0 {
			opts = append(opts, parquet.WithRollRows(out.RollRows))
		}
		if out.RollBytes > 0 {
			opts = append(opts, parquet.WithRollBytes(int64(out.RollBytes)))
		}
		return parquet.NewSink(path, schema, opts...)
	case ".arrow", ".ipc", ".feather":
		return arrowfile.NewSink(path, schema)
	case ".arrows":
		return arrowfile.NewSink(path, schema, arrowfile.WithFormat(arrowfile.FormatStream))
	case ".csv":
		return csv.NewSink(path, schema, csv.WithAtomicRename(true))
	case ".jsonl", ".ndjson":
		return jsonl.NewSink(path, schema, jsonl.WithAtomicRename(true))
	}
	return nil, fmt.Errorf("%w: %s: unknown file type (want .parquet, .arrow, .arrows, .csv or .jsonl)", plan.ErrConfig, path)
}

// expandFiles resolves paths and globs into a sorted list of files; a
// pattern that matches nothing is an error.
func expandFiles(patterns []string) ([]string, error) {
	var out []string
	for _, p := range patterns {
		m, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("%w: input.files: %q: %v", plan.ErrConfig, p, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%w: input.files: %q matches no file", plan.ErrConfig, p)
		}
		sort.Strings(m)
		out = append(out, m...)
	}
	return out, nil
}
