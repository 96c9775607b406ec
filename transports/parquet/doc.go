// Package parquet reads and writes Apache Parquet files as PCS record
// batches, on top of arrow-go's pqarrow.
//
// # Source
//
// [NewSource] opens a file and yields its rows as [arrow.RecordBatch]es of
// at most [DefaultBatchRows] rows (see [WithBatchRows]). Only the columns
// named with [WithColumns] and the row groups listed with [WithRowGroups]
// are decoded: projection and row-group selection happen before any page
// is read, so reading 2 of 5 columns costs roughly 2/5 of the time.
// [WithParallel] decodes the columns of each batch on one goroutine per
// column. The schema is known when NewSource returns ([Source.Schema]),
// and so is the row count ([Source.NumRows]).
//
// # Sink
//
// [NewSink] writes batches of one schema into a Parquet file. Rows are
// buffered until a row group is full ([WithRowGroupRows], default
// [DefaultRowGroupRows]), then encoded and compressed ([WithCompression],
// default zstd). With [WithRollRows] or [WithRollBytes] the sink starts a
// new file when the current one is full; the files are then named after
// the path with a five-digit sequence number before the extension
// ("out.parquet" -> "out-00000.parquet", "out-00001.parquet", ...).
// [WithAtomicRename] writes every file under a hidden temporary name in
// the same directory and renames it into place when it is complete, so
// readers never see a partial file.
//
// The Arrow schema is stored in the file ("ARROW:schema" key), so types
// that Parquet cannot represent exactly (timestamp[s], time zones, large
// strings, unsigned integers) read back as the type that was written.
//
// # Ownership
//
// A batch returned by [Source.Read] belongs to the caller, who releases
// it; it stays valid after later Reads and after Close. [Sink.Write]
// retains the batches it buffers until they are written out; the caller
// still releases its own reference. See package transports.
//
// # Schema metadata
//
// pqarrow annotates every field it reads with the Parquet field id
// ("PARQUET:field_id" metadata). The Source drops that annotation from
// top-level fields when the id is -1 (unset), which is always the case
// for files written by this package, pyarrow and Polars unless ids were
// assigned explicitly; a schema written by a Sink thus reads back equal
// ([arrow.Schema.Equal]) to the schema it was written with.
package parquet
