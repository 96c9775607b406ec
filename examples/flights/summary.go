package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

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

// stringValues reads a utf8 column, plain, large or dictionary-encoded.
func stringValues(col arrow.Array) (func(i int) (string, bool), bool) {
	switch c := col.(type) {
	case *array.String:
		return func(i int) (string, bool) { return c.Value(i), c.IsValid(i) }, true
	case *array.LargeString:
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

// hourlyTOML is the pipeline of the demo's last step, written to the work
// directory and run with `pcs run`: the window system over pcs-node's
// output, one row per origin and hour. The consumed partitions are in
// about date order, not exactly: the node works on max_in_flight (8) at
// a time and publishes each when it is done, so an output can follow
// those of up to 7 later partitions, about a day of flights each (more
// after a redelivery); hence the out-of-orderness of 30 days. The filter
// is a no-op after the node's (a pipeline needs a system before its
// window).
const hourlyTOML = `[[pipeline]]
name = "origin_hours"
input = { files = ["${PCS_ENRICHED}"], component = "flight" }
output = { file = "${PCS_HOURS}" }

[[pipeline.component]]
name = "flight"
fields = ["date: timestamp[us]", "delay: int64", "origin: large_string"]

[[pipeline.system]]
use = "filter"
options = { component = "flight", expression = "delay is not null" }

[[pipeline.system]]
use = "window"
options = { time = "date", window = "tumbling(1h)", keys = ["origin"], aggregates = ["avg(delay) as avg_delay", "count(*) as flights"], out_of_orderness = "720h" }
`

// worstMinFlights: the worst origin-hours are among those with at least
// this many flights (an hour with one very late flight says little).
const worstMinFlights = 10

// originHour is one origin's flights in one hour (Start, Unix ms UTC).
type originHour struct {
	Origin  string
	Start   int64
	Sum     float64 // of delay
	Flights int64
}

func (h originHour) avg() float64 { return h.Sum / float64(h.Flights) }

func (h originHour) String() string {
	return fmt.Sprintf("%-4s %s UTC  avg delay %6.1f min  %d flights",
		h.Origin, time.UnixMilli(h.Start).UTC().Format("2006-01-02 15:04"), h.avg(), h.Flights)
}

// readHours reads the window's output: origin, window_start, avg_delay,
// flights (Sum is avg_delay * flights).
func readHours(ctx context.Context, path string) (map[[2]string]originHour, error) {
	out := map[[2]string]originHour{}
	err := eachBatch(ctx, path, []string{"origin", "window_start", "window_end", "avg_delay", "flights"}, func(rec arrow.RecordBatch) error {
		origin, ok1 := stringValues(rec.Column(0))
		start, ok2 := rec.Column(1).(*array.Timestamp)
		end, ok3 := rec.Column(2).(*array.Timestamp)
		avg, ok4 := rec.Column(3).(*array.Float64)
		n, ok5 := rec.Column(4).(*array.Int64)
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
			return fmt.Errorf("%s: unexpected column types %s", path, rec.Schema())
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			o, _ := origin(i)
			h := originHour{Origin: o, Start: int64(start.Value(i)), Flights: n.Value(i)}
			h.Sum = avg.Value(i) * float64(h.Flights)
			if int64(end.Value(i))-h.Start != time.Hour.Milliseconds() {
				return fmt.Errorf("%s: window %v is not an hour", path, h)
			}
			k := hourKey(h)
			if _, dup := out[k]; dup {
				return fmt.Errorf("%s: window %v twice", path, h)
			}
			out[k] = h
		}
		return nil
	})
	return out, err
}

func hourKey(h originHour) [2]string { return [2]string{h.Origin, fmt.Sprint(h.Start)} }

// hoursDirectly computes the origin-hours from the input, row by row,
// without PCS: the rows the node keeps (a delay and a positive distance),
// grouped by origin and the hour of date.
func hoursDirectly(ctx context.Context, flights string) (map[[2]string]originHour, error) {
	out := map[[2]string]originHour{}
	const hour = int64(time.Hour / time.Millisecond)
	err := eachBatch(ctx, flights, []string{"date", "delay", "distance", "origin"}, func(rec arrow.RecordBatch) error {
		date := rec.Column(0).(*array.Timestamp)
		unit := date.DataType().(*arrow.TimestampType).Unit
		delay := rec.Column(1).(*array.Int64)
		dist := rec.Column(2).(*array.Int64)
		origin := rec.Column(3).(*array.LargeString)
		for i := 0; i < int(rec.NumRows()); i++ {
			if delay.IsNull(i) || dist.IsNull(i) || dist.Value(i) <= 0 {
				continue
			}
			ms := date.Value(i).ToTime(unit).UnixMilli()
			h := originHour{Origin: origin.Value(i), Start: ms - ((ms%hour)+hour)%hour}
			k := hourKey(h)
			if old, ok := out[k]; ok {
				h = old
			}
			h.Sum += float64(delay.Value(i))
			h.Flights++
			out[k] = h
		}
		return nil
	})
	return out, err
}

// sameHours reports the first difference between got and want: the same
// origin-hours with the same flights and average delay (to 1e-9).
func sameHours(got, want map[[2]string]originHour) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d origin-hours, want %d", len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || g.Flights != w.Flights || math.Abs(g.avg()-w.avg()) > 1e-9*math.Max(1, math.Abs(w.avg())) {
			return fmt.Errorf("origin-hour %v: got %v (present: %v)", w, g, ok)
		}
	}
	return nil
}

// worstHours returns the n origin-hours with the highest average delay
// among those with at least worstMinFlights flights (ties: origin, hour).
func worstHours(hours map[[2]string]originHour, n int) []originHour {
	var all []originHour
	for _, h := range hours {
		if h.Flights >= worstMinFlights {
			all = append(all, h)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.avg() != b.avg() {
			return a.avg() > b.avg()
		}
		if a.Origin != b.Origin {
			return a.Origin < b.Origin
		}
		return a.Start < b.Start
	})
	return all[:min(n, len(all))]
}
