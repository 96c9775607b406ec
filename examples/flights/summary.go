package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/examples/flights/flightsys"
	"github.com/pcs-dev/pcs/transports/parquet"
)

// summary is what the demo reports about the pipeline's output.
type summary struct {
	Rows    int64            // rows kept
	Delayed int64            // rows with delayed = true
	ByState map[string]int64 // delayed rows per origin state ("?" when unknown)
}

func (s summary) share() float64 {
	if s.Rows == 0 {
		return 0
	}
	return float64(s.Delayed) / float64(s.Rows)
}

// top returns the n states with the most delayed flights (ties by name).
func (s summary) top(n int) []string {
	states := make([]string, 0, len(s.ByState))
	for st := range s.ByState {
		states = append(states, st)
	}
	sort.Slice(states, func(i, j int) bool {
		a, b := s.ByState[states[i]], s.ByState[states[j]]
		return a > b || a == b && states[i] < states[j]
	})
	return states[:min(n, len(states))]
}

func (s summary) equal(o summary) bool {
	if s.Rows != o.Rows || s.Delayed != o.Delayed || len(s.ByState) != len(o.ByState) {
		return false
	}
	for k, v := range s.ByState {
		if o.ByState[k] != v {
			return false
		}
	}
	return true
}

func (s summary) print(w io.Writer) {
	fmt.Fprintf(w, "rows out:      %d\n", s.Rows)
	fmt.Fprintf(w, "delayed share: %.2f%% (%d flights delayed more than %d minutes)\n", 100*s.share(), s.Delayed, flightsys.DelayedMinutes)
	var parts []string
	for _, st := range s.top(5) {
		parts = append(parts, fmt.Sprintf("%s %d", st, s.ByState[st]))
	}
	fmt.Fprintf(w, "top 5 origin states by delayed flights: %s\n", strings.Join(parts, ", "))
}

// summarizeOutput reads the pipeline's output file.
func summarizeOutput(ctx context.Context, path string) (summary, error) {
	s := summary{ByState: map[string]int64{}}
	err := eachBatch(ctx, path, []string{"origin_state", "delayed"}, func(rec arrow.RecordBatch) error {
		state, ok1 := stringValues(rec.Column(0))
		delayed, ok2 := rec.Column(1).(*array.Boolean)
		if !ok1 || !ok2 {
			return fmt.Errorf("%s: unexpected column types %s", path, rec.Schema())
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			s.Rows++
			if delayed.IsNull(i) || !delayed.Value(i) {
				continue
			}
			s.Delayed++
			st := "?"
			if v, ok := state(i); ok {
				st = v
			}
			s.ByState[st]++
		}
		return nil
	})
	return s, err
}

// stringValues reads a utf8 column, plain or dictionary-encoded.
func stringValues(col arrow.Array) (func(i int) (string, bool), bool) {
	switch c := col.(type) {
	case *array.String:
		return func(i int) (string, bool) { return c.Value(i), c.IsValid(i) }, true
	case *array.Dictionary:
		dict, ok := c.Dictionary().(*array.String)
		return func(i int) (string, bool) {
			if c.IsNull(i) {
				return "", false
			}
			return dict.Value(c.GetValueIndex(i)), true
		}, ok
	}
	return nil, false
}

// computeDirectly derives the expected summary from the input, row by
// row, without PCS: keep rows with a delay and a positive distance, look
// up the origin's state, count delay > 15.
func computeDirectly(ctx context.Context, flights, airportsCSV string) (summary, error) {
	airports, err := flightsys.LoadAirports(airportsCSV, memory.DefaultAllocator)
	if err != nil {
		return summary{}, err
	}
	defer airports.Release()
	s := summary{ByState: map[string]int64{}}
	err = eachBatch(ctx, flights, []string{"delay", "distance", "origin"}, func(rec arrow.RecordBatch) error {
		delay := rec.Column(0).(*array.Int64)
		dist := rec.Column(1).(*array.Int64)
		origin := rec.Column(2).(*array.LargeString)
		for i := 0; i < int(rec.NumRows()); i++ {
			if delay.IsNull(i) || dist.IsNull(i) || dist.Value(i) <= 0 {
				continue
			}
			s.Rows++
			if delay.Value(i) <= flightsys.DelayedMinutes {
				continue
			}
			s.Delayed++
			st := "?"
			if _, state, ok := airports.Lookup(origin.Value(i)); ok && origin.IsValid(i) {
				st = state
			}
			s.ByState[st]++
		}
		return nil
	})
	return s, err
}

// eachBatch calls fn with each batch of the Parquet file at path (only
// columns, all when empty), releasing it afterwards.
func eachBatch(ctx context.Context, path string, columns []string, fn func(arrow.RecordBatch) error) error {
	var opts []parquet.SourceOption
	if len(columns) > 0 {
		opts = append(opts, parquet.WithColumns(columns...))
	}
	src, err := parquet.NewSource(path, opts...)
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
