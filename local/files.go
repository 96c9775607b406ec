package local

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/files"
)

// openInput opens an input file of `pcs run` (files.Open) with the input
// component's schema: CSV and JSON Lines parse each declared column as
// its declared type (a string stays a string, a date or timestamp reads
// every form inference reads) and a declared column the file lacks reads
// as nulls; Parquet reads only those columns, decoded in parallel; a
// Parquet or Arrow file that lacks one is an error naming the column, the
// file and its columns.
func openInput(path string, schema *arrow.Schema) (transports.Source, error) {
	return files.Open(path, files.WithSchema(schema), files.WithParallel(true))
}

// createOutput creates output.file (files.Create: by extension, renamed
// into place when complete); partition_by, roll_rows and roll_bytes apply
// to Parquet (another format with them is an error naming the option).
func createOutput(path string, schema *arrow.Schema, o plan.OutputConfig) (transports.Sink, error) {
	var opts []files.Option
	if len(o.PartitionBy) > 0 {
		opts = append(opts, files.WithPartitionBy(o.PartitionBy...))
	}
	if o.RollRows > 0 {
		opts = append(opts, files.WithRollRows(o.RollRows))
	}
	if o.RollBytes > 0 {
		opts = append(opts, files.WithRollBytes(int64(o.RollBytes)))
	}
	sink, err := files.Create(path, schema, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: output.file: %w", plan.ErrConfig, err)
	}
	return sink, nil
}

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

// inputRows is the number of rows of paths read from their Parquet
// footers, or -1 when one is not Parquet (its rows are known only once
// read).
func inputRows(paths []string) int64 {
	var n int64
	for _, p := range paths {
		if f, err := files.FormatOf(p); err != nil || f != files.Parquet {
			return -1
		}
		pf, err := file.OpenParquetFile(p, false)
		if err != nil {
			return -1
		}
		n += pf.NumRows()
		pf.Close()
	}
	return n
}
