// Package pcs is the core of PCS: columnar datasets of Arrow columns, typed
// systems that declare which fields they read and write, and pipelines that
// derive a field-level dependency graph from those declarations and run
// independent systems concurrently, in stages, with per-system retry.
// It imports arrow-go only (no NATS, no Raft), so it runs and tests
// in-process.
//
// # Model
//
// A [Component] is a Go struct type bound to an Arrow schema (one column
// per field, `arrow:"name"` tags). A [Dataset] holds rows of several
// components column-wise: one set of columns per component, all of the same
// length, row i of each describing the same entity; an alive bitmap for O(1)
// soft deletes ([Dataset.Delete], [Dataset.Compact]); and resources, typed
// singletons such as lookup tables ([InsertResource]).
//
// A [System] declares its reads and writes in a [SystemMeta] through
// [FieldRef] handles, whole components, resource types ([Resource]) and
// the alive bitmap ([Rows]). [PipelineBuilder.Build] orders systems by the
// rule of a field-level DAG: j depends on an earlier-registered i when j
// reads or writes what i writes, or writes what i reads. Stages are the
// longest-path levels of that DAG; [Pipeline.Stages] shows the plan. A
// stage's systems run concurrently, each against a view of the dataset
// that rejects undeclared access ([ErrUndeclaredAccess]) and buffers its
// writes in a write set applied only after the whole stage succeeded, so
// a failed attempt leaves nothing behind. Failures are retried with
// exponential backoff ([RetryPolicy]) unless marked [Permanent].
//
// A system is a type with Meta and Run, a function ([SystemFunc]), or a
// row-wise rule over one or two fields ([Map1], [Map2]: `valid = amount >
// 0` is one call that declares its access and builds the column).
//
// [ParallelRows] lets one system spread its work over zero-copy row slices.
// A [Scheduler] runs several pipelines with order and data edges and
// bounded queues between them (backpressure: producers block, nothing is
// dropped).
//
// # Arrow memory ownership
//
// PCS follows arrow-go's reference counting, with one rule everywhere:
//
//   - A function that returns a new array, RecordBatch or Dataset gives the
//     caller one reference: the caller calls Release (Component.Batch,
//     Dataset.Batch, Dataset.AliveMask, ParallelRows, SliceArray, ReadIPC,
//     Dataset.Clone).
//   - A function that takes an array or RecordBatch and keeps it Retains
//     it; the caller still releases its own reference (FieldRef.Set,
//     Dataset.Append).
//   - Arrays a Dataset returns (FieldRef.Get, View accessors,
//     Dataset.Column) are borrowed: valid until that column is replaced or
//     the dataset changes shape or is released. Inside a system that is at
//     least until Run returns. Retain to keep one longer.
//   - Datasets decoded with ReadIPC from an uncompressed buffer point into
//     that buffer: keep it unmodified while the dataset lives.
//   - Datasets passed between pipelines by a Scheduler are owned by the
//     scheduler, which releases them.
//
// Tests use memory.NewCheckedAllocator and AssertSize(t, 0) to prove it.
package pcs
