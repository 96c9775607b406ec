// Package window is PCS's event-time windowing: watermarks, tumbling,
// sliding and session windows, and keyed aggregation over Arrow
// RecordBatches, computed column at a time. The model is Flink's (see
// DESIGN.md section 7).
//
// # Event time
//
// A [TimeSpec] names the event-time column: an Arrow timestamp of any
// unit, date32/date64, an integer counting seconds, milliseconds,
// microseconds or nanoseconds since the epoch ([TimeSpec].Unit), or an
// RFC 3339 string ([TimeSpec].Format = "rfc3339"). Internally every time
// is an int64 count of milliseconds since the Unix epoch, UTC
// (sub-millisecond parts are floored): window bounds, watermarks
// ([Operator.Watermark], [Stats].Watermark) and the window_start and
// window_end output columns (timestamp[ms, UTC]) all use it. Rows with a
// null event time go to the late output.
//
// # Watermarks
//
// Each source (a name given to [Operator.Process]) has a watermark: the
// largest event time it delivered minus [Spec].OutOfOrderness. The
// operator's watermark is the minimum over sources that are not idle
// ([Spec].IdleTimeout, measured with [Spec].Clock) and never goes back.
// A source that has delivered no event time yet holds the watermark back
// (at NoWatermark) until it does or goes idle. A window [start, end)
// fires when the watermark reaches end (W >= end).
// [Operator.Flush] is the final watermark: it fires everything.
// [Operator.Tick] lets idleness advance the watermark without input.
//
// # Windows
//
// [Tumbling] and [Sliding] windows start at offset + k*slide. Sliding
// windows are computed from panes of gcd(size, slide): each row updates
// the partial of its one pane and a window merges its size/gcd panes when
// it fires, so the cost per row does not grow with size/slide. [Session]
// windows are per key, [first, last + gap); a row whose [t, t + gap)
// intersects two sessions merges them. As in Flink, intervals that touch
// intersect: rows exactly gap apart are one session. [ParseAssigner]
// reads "tumbling(1h)", "sliding(7d, 1d)", "session(30m)".
//
// Calendar windows ([TumblingMonths], "tumbling(1mo)", "tumbling(1y)",
// "tumbling(3mo)") are tumbling windows of whole calendar months in UTC:
// a window starts on the first day of a month at 00:00 UTC and ends where
// the next one starts (a row at exactly 2024-03-01T00:00:00Z is in
// March; February 2024 has 29 days), and years start on January 1st.
// They work like fixed tumbling windows everywhere (watermarks, lateness,
// partials, snapshots), their panes keyed by their start. Sliding
// calendar windows are not supported ("sliding(1y, 1mo)" is an [ErrSpec]
// error); "sliding(365d, 30d)" slides by fixed durations.
//
// # Lateness
//
// A window's state is kept until the watermark reaches end +
// [Spec].AllowedLateness. A row that arrives in that time updates the
// window and, if the window already fired, re-fires it: the result row
// carries the full updated aggregates and is_update = true. A row that is
// too late for every window it belongs to is not dropped: it is returned
// unchanged in [Output].Late and counted ([Stats].LateRows).
//
// # Aggregates and group-by
//
// [Agg] lists count, count(col), sum, avg, min, max, count_distinct,
// first and last; [ParseAgg] reads "avg(delay) as avg_delay". min, max,
// first, last and count_distinct also take bool columns (false < true).
// Keys are string, large_string, dictionary<string>, integer, bool,
// timestamp and date columns; a null key is a group of its own.
// Aggregates skip nulls as SQL does.
//
// The group-by is columnar, a batch at a time, with no Go map and no
// allocation per row. Key columns become a dense group id per row: in
// general the key columns are encoded into bytes per row, hashed with
// xxh3 and looked up in an open-addressing table that compares key bytes
// only on a hash match. One string key reads the column's offsets and
// data buffers directly: a string of up to 7 bytes (codes, tickers) is
// packed with its length into one word, loaded with one unaligned 8-byte
// read, and found in a small open-addressing table with one compare per
// probe; longer strings hash with xxh3. A dictionary<string> key is
// looked up once per dictionary entry and rows map through their indices.
// Then each aggregate runs a tight typed loop over the group ids and its
// values. Aggregates that need the same per-group sums and counts (sum
// and avg of one column, count(col), and count(*) when the column has no
// null in the batch) compute them once per batch and copy them, which
// costs per group, not per row. [Spec].Parallelism can split large
// batches over goroutines (off by default: see its doc).
//
// # Two phases: partials and merge
//
// [Operator.Process] first aggregates the batch into a partial (one row
// per key and pane, or per key and session), then merges it into the
// window state. The two steps are exposed for a fleet:
// [Operator.Partials] computes a batch's partial as a RecordBatch
// ([Operator.PartialSchema]: keys, window_start, window_end, state
// columns), [Operator.ShardOf] routes its rows by key hash, and the
// shard owner's [Operator.MergePartials] folds them in, with the same
// watermark, firing and lateness rules. Merging is associative.
//
// # Checkpoints
//
// [Operator.Snapshot] serializes the whole state (open panes or sessions
// with their partials, per-source watermarks, counters) to versioned
// bytes: a small JSON header and an Arrow IPC stream. [Operator.Restore]
// loads it into an operator built from the same spec; processing then
// continues with the same results as without the interruption.
//
// # State larger than memory
//
// With [Spec].State the keyed state lives in a pcs.StateBackend (a Pebble
// store) and the operator's Go structures are a write-back cache of at
// most [Spec].MaxResident keyed entries (spill.go); the results are the
// same. Snapshot then carries the backend's snapshot, and with a backend
// that keeps files (pcs.StateFiles) [Operator.SnapshotFiles] checkpoints
// its files instead, for incremental checkpoints. See docs/state.md.
//
// # Arrow memory
//
// The rules of package pcs apply. Batches given to Process, Partials,
// MergePartials and ShardOf are borrowed for the call. Every non-nil
// batch in a returned [Output] is new and owned by the caller, who
// releases it ([Output.Release]); the allocator given to [New] allocates
// them. Window state lives in Go memory or its backend (strings kept in
// it are copied out of the batches), so nothing of the input is retained
// after a call.
//
// An Operator is not safe for concurrent use: one goroutine drives it.
package window
