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
// default snappy) on other goroutines while the next row groups fill (up
// to two wait), the column chunks of a row group concurrently, one
// worker per core. Each chunk's encoding is chosen for it: strings,
// binaries, Arrow dictionaries and integers are dictionary-encoded
// (dictionary page, RLE indices) where the dictionary stays under 1 MiB
// and is smaller than PLAIN, else PLAIN; time and floating-point columns
// PLAIN (mostly distinct values; the codec takes out the repetition). With [WithRollRows] or [WithRollBytes] the sink starts a
// new file when the current one is full; the files are then named after
// the path with a five-digit sequence number before the extension
// ("out.parquet" -> "out-00000.parquet", "out-00001.parquet", ...).
// [WithAtomicRename] writes every file under a hidden temporary name in
// the same directory and renames it into place when it is complete, so
// readers never see a partial file.
//
// # Partitioned output
//
// With [WithPartitionBy] the sink writes Hive-style partition
// directories, the layout Spark, Hive, DuckDB and Flink filesystem sinks
// write and read: each batch is split by the values of the partition
// columns and the rows of each key go to
//
//	<root>/<col1>=<v1>/<col2>=<v2>/<base>-00000.parquet
//
// where root and base are the directory and the base name of the path
// given to [NewSink] ("out/part.parquet" -> "out/origin=SEA/part-00000.parquet").
// Names are always numbered; rolling, atomic rename and the other
// options apply to each directory on its own. Rows keep their input
// order within a partition. The split is columnar: each batch's rows are
// mapped to partition ids once (one hash lookup per row and key column),
// and each partition's rows are gathered with one arrow compute take.
//
// The partition columns are not stored in the files (as Hive and Spark
// do): the files' schema is the sink's schema without them, and the
// values live only in the directory names:
//
//   - strings as they are, with the characters Hive escapes
//     percent-encoded (%XX per byte): '/', '=', '%', ':', ASCII control
//     characters and "#'*?\[]^{}, plus invalid UTF-8 and non-printable
//     characters;
//   - integers in decimal, booleans as true/false;
//   - dates as 2006-01-02;
//   - timestamps as UTC "2006-01-02 15:04:05.999999999" (trailing zeros
//     of the fraction dropped; ':' escaped as %3A);
//   - null, and the empty string (as in Hive and Spark), as
//     [HiveDefaultPartition].
//
// A sink keeps a file open in at most [WithMaxOpenPartitions]
// directories (default [DefaultMaxOpenPartitions]); a new partition
// beyond that closes the least recently written one, whose later rows go
// to its next numbered file. [Sink.Files] lists the files of every
// directory; Close finishes them all (the errors of partitions that fail
// name their directory). A partitioned sink that receives no rows
// writes no file.
//
// [WithHivePartitioning] makes a Source read the partition values of its
// file's path back, as string columns after the file's columns. Each
// Source reads one file: to read a whole tree, read the files of
// [Sink.Files] or walk the directory.
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
