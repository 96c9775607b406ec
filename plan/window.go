package plan

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/pcs/window"
)

// WindowSystem is the name of the window system (`use = "window"`).
// The window system ends a pipeline: `use = "window"` must be its last
// system. Unlike the others it does not work on a partition's rows in
// place: it feeds the pipeline's output rows (output.components) to an
// event-time window operator (package pcs/window, Flink's model) and the
// pipeline's output becomes the windows that fired: the key columns,
// window_start, window_end (timestamp[ms, UTC]), one column per aggregate
// and is_update. Rows too late for every window they belong to go to the
// late output (`pcs run`: output.late_file; pcs-node: <pipeline>.late).
//
//	[[pipeline.system]]
//	use = "window"
//	options = { time = "date", window = "tumbling(1h)", keys = ["origin"],
//	            aggregates = ["avg(delay) as avg_delay", "count(*) as flights"],
//	            out_of_orderness = "1h", allowed_lateness = "0s" }
const WindowSystem = "window"

// windowOptions are the window system's options.
type windowOptions struct {
	// Time is the event-time column; TimeUnit the unit of an integer
	// column (s, ms, us, ns; default ms); TimeFormat "rfc3339" for a
	// string column.
	Time       string `toml:"time"`
	TimeUnit   string `toml:"time_unit"`
	TimeFormat string `toml:"time_format"`
	// Window is tumbling(size[, offset]), sliding(size, slide[, offset])
	// or session(gap), durations like "1h" or "7d".
	Window string `toml:"window"`
	// Keys are the group-by columns; none: one group per window.
	Keys []string `toml:"keys"`
	// Aggregates like "avg(delay) as avg_delay", "count(*)",
	// "count(distinct origin) as origins"; at least one.
	Aggregates []string `toml:"aggregates"`
	// Shards > 0 aggregates across the fleet in two phases: partials
	// routed by key hash to that many shards, each merged by one owner
	// node (see shards.go); 0 (default): each node windows the partitions
	// it processes.
	Shards          int      `toml:"shards"`
	OutOfOrderness  Duration `toml:"out_of_orderness"`
	AllowedLateness Duration `toml:"allowed_lateness"`
	IdleTimeout     Duration `toml:"idle_timeout"`
}

// windowSpec decodes the window system's options into a window.Spec and
// checks it against the schema of the rows it will see, returning the
// spec and the result schema.
func windowSpec(o Options, in *arrow.Schema) (window.Spec, *arrow.Schema, int, error) {
	var opts windowOptions
	if err := o.Decode(&opts); err != nil {
		return window.Spec{}, nil, 0, err
	}
	fail := func(err error) (window.Spec, *arrow.Schema, int, error) {
		return window.Spec{}, nil, 0, fmt.Errorf("%w: %s: %v", ErrConfig, o.where, err)
	}
	if opts.Shards < 0 {
		return fail(fmt.Errorf("shards %d < 0", opts.Shards))
	}
	units := map[string]time.Duration{"": 0, "s": time.Second, "ms": time.Millisecond, "us": time.Microsecond, "ns": time.Nanosecond}
	unit, ok := units[opts.TimeUnit]
	if !ok {
		return fail(fmt.Errorf("time_unit %q: want s, ms, us or ns", opts.TimeUnit))
	}
	a, err := window.ParseAssigner(opts.Window)
	if err != nil {
		return fail(err)
	}
	spec := window.Spec{
		Time:            window.TimeSpec{Column: opts.Time, Unit: unit, Format: opts.TimeFormat},
		Assigner:        a,
		OutOfOrderness:  time.Duration(opts.OutOfOrderness),
		AllowedLateness: time.Duration(opts.AllowedLateness),
		IdleTimeout:     time.Duration(opts.IdleTimeout),
		Keys:            opts.Keys,
	}
	for _, s := range opts.Aggregates {
		agg, err := window.ParseAgg(s)
		if err != nil {
			return fail(err)
		}
		spec.Aggs = append(spec.Aggs, agg)
	}
	op, err := window.New(spec, in, memory.DefaultAllocator)
	if err != nil {
		return fail(err)
	}
	spec.State, spec.MaxResident = o.windowState(), o.state.Resident
	return spec, op.ResultSchema(), opts.Shards, nil
}

// windowState returns the window.Spec.State of the pipeline's state
// config: nil in memory, else a function opening the pebble store of the
// first window operator in <dir>/<pipeline>/window, of the next ones
// (fleet shard owners) in window.1, window.2, ...
func (o Options) windowState() func() (pcs.StateBackend, error) {
	if o.state.Backend != "pebble" {
		return nil
	}
	var n atomic.Int64
	return func() (pcs.StateBackend, error) {
		name := WindowSystem
		if i := n.Add(1) - 1; i > 0 {
			name += "." + strconv.FormatInt(i, 10)
		}
		return o.stateBackend(name)
	}
}
