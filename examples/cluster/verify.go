package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/pcs-dev/pcs/transports/parquet"
)

// input is what the driver knows of the input file: its rows and which of
// them the pipeline keeps (its filter: delay is not null and distance > 0),
// by position, i.e. by the row id `pcs publish --row-id` gives them.
type input struct {
	rows, expected int64
	keep           []bool
}

func readInput(ctx context.Context, path string) (input, error) {
	var in input
	err := eachBatch(ctx, path, []string{"delay", "distance"}, func(rec arrow.RecordBatch) error {
		delay, ok1 := rec.Column(0).(*array.Int64)
		distance, ok2 := rec.Column(1).(*array.Int64)
		if !ok1 || !ok2 {
			return fmt.Errorf("%s: delay and distance are not int64: %s", path, rec.Schema())
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			k := delay.IsValid(i) && distance.IsValid(i) && distance.Value(i) > 0
			in.keep = append(in.keep, k)
			if k {
				in.expected++
			}
		}
		in.rows += rec.NumRows()
		return nil
	})
	return in, err
}

// sinkCheck counts the sink's row ids against the input.
type sinkCheck struct {
	rows       int64 // rows in the sink file
	lost       int64 // expected ids not in the sink
	duplicates int64 // extra copies of ids (an id twice counts 1)
	unexpected int64 // ids out of range or of rows the filter drops
}

// checkSink reads the row_id column of the sink file.
func checkSink(ctx context.Context, path string, in input) (sinkCheck, error) {
	var c sinkCheck
	seen := make([]uint8, in.rows)
	err := eachBatch(ctx, path, []string{rowIDColumn}, func(rec arrow.RecordBatch) error {
		ids, ok := rec.Column(0).(*array.Int64)
		if !ok {
			return fmt.Errorf("%s: %s is not int64: %s", path, rowIDColumn, rec.Schema())
		}
		for i := 0; i < ids.Len(); i++ {
			c.rows++
			id := ids.Value(i)
			if ids.IsNull(i) || id < 0 || id >= in.rows || !in.keep[id] {
				c.unexpected++
				continue
			}
			if seen[id] > 0 {
				c.duplicates++
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
		if n == 0 && in.keep[id] {
			c.lost++
		}
	}
	return c, nil
}

// eachBatch calls fn with each batch of columns of the Parquet file at
// path, releasing it afterwards.
func eachBatch(ctx context.Context, path string, columns []string, fn func(arrow.RecordBatch) error) error {
	src, err := parquet.NewSource(path, parquet.WithColumns(columns...))
	if err != nil {
		return err
	}
	defer src.Close()
	for {
		rec, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		err = fn(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
}
