// Package rowid checks a sink against its input by row id, for the drivers
// of the fleet and cluster demos: `pcs publish --row-id row_id` numbers the
// input rows 0..n-1, and after the run every row the pipeline keeps must be
// in the sink exactly once.
package rowid

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/files"
)

// Column is the row-id column `pcs publish --row-id` adds.
const Column = "row_id"

// Input is what a driver knows of the input file: its rows and which of
// them the pipeline keeps (its filter: delay is not null and distance > 0),
// by position, i.e. by the row id `pcs publish --row-id` gives them.
type Input struct {
	Rows, Expected int64
	Keep           []bool
}

// ReadInput reads the delay and distance columns of the flights Parquet
// file at path. Errors name the file.
func ReadInput(ctx context.Context, path string) (Input, error) {
	var in Input
	err := eachBatch(ctx, path, []string{"delay", "distance"}, func(rec arrow.RecordBatch) error {
		delay, ok1 := rec.Column(0).(*array.Int64)
		distance, ok2 := rec.Column(1).(*array.Int64)
		if !ok1 || !ok2 {
			return fmt.Errorf("%s: delay and distance are not int64: %s", path, rec.Schema())
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			k := delay.IsValid(i) && distance.IsValid(i) && distance.Value(i) > 0
			in.Keep = append(in.Keep, k)
			if k {
				in.Expected++
			}
		}
		in.Rows += rec.NumRows()
		return nil
	})
	return in, err
}

// SinkCheck counts the sink's row ids against the input.
type SinkCheck struct {
	Rows       int64 // rows in the sink file
	Lost       int64 // expected ids not in the sink
	Duplicates int64 // extra copies of ids (an id twice counts 1)
	Unexpected int64 // ids out of range or of rows the filter drops
}

// CheckSink reads the Column column (int64) of the sink file at path
// (any format files.Open reads) and counts its row ids against in.
func CheckSink(ctx context.Context, path string, in Input) (SinkCheck, error) {
	var c SinkCheck
	seen := make([]uint8, in.Rows)
	err := eachBatch(ctx, path, []string{Column}, func(rec arrow.RecordBatch) error {
		ids, ok := rec.Column(0).(*array.Int64)
		if !ok {
			return fmt.Errorf("%s: %s is not int64: %s", path, Column, rec.Schema())
		}
		for i := 0; i < ids.Len(); i++ {
			c.Rows++
			id := ids.Value(i)
			if ids.IsNull(i) || id < 0 || id >= in.Rows || !in.Keep[id] {
				c.Unexpected++
				continue
			}
			if seen[id] > 0 {
				c.Duplicates++
			}
			if seen[id] < 255 {
				seen[id]++
			}
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	for id, n := range seen {
		if n == 0 && in.Keep[id] {
			c.Lost++
		}
	}
	return c, nil
}

// eachBatch calls fn with each batch of columns of the file at path,
// releasing it afterwards.
func eachBatch(ctx context.Context, path string, columns []string, fn func(arrow.RecordBatch) error) error {
	src, err := files.Open(path, files.WithColumns(columns...))
	if err != nil {
		return err
	}
	defer src.Close()
	return transports.Each(ctx, src, fn)
}
