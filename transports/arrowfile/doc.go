// Package arrowfile reads and writes Arrow IPC data on disk, in both of
// the format's framings:
//
//   - the file format ("ARROW1" magic at both ends, a footer that indexes
//     the batches; .arrow, Feather v2), and
//   - the stream format (schema, batches, end-of-stream marker; .arrows),
//     the framing of PCS partitions on NATS subjects.
//
// [NewSource] tells them apart by the magic bytes. A file-format file is
// read into memory once and decoded with ipc.NewMappedFileReader, so the
// batches' column buffers point into that memory instead of being copied
// (decoding 1M rows x 5 columns takes ~0.1 ms); a compressed body is
// decompressed into buffers from the allocator. Files with
// dictionary-encoded fields are decoded with ipc.NewFileReader instead,
// which copies (arrow-go v18.8.0's mapped reader panics on dictionaries).
// A stream is read sequentially through a buffer, and each batch's body
// is read into memory from the allocator.
//
// Corrupt input returns errors: panics of arrow-go's decoders are turned
// into errors, and no IPC message may claim more bytes than the file
// has. arrow-go still sizes some allocations from unchecked lengths in
// the schema and in compressed buffers, so a few hundred corrupt bytes
// can make it allocate gigabytes: do not open untrusted files in a
// process that cannot afford that (see knownbugs_test.go).
//
// [NewSink] writes the file format by default ([WithFormat] for streams),
// optionally with the format's own body compression ([WithCompression]:
// lz4 or zstd), which every Arrow reader (pyarrow, arrow-js, DuckDB)
// decodes. With [WithAtomicRename] the data goes to a hidden temporary
// file, renamed into place by a successful Close.
//
// # Dictionaries
//
// The IPC file format allows one dictionary per dictionary-encoded field
// (no replacement; deltas are allowed by the specification but refused by
// arrow-go's file writer and not read by every reader), while batches
// from different partitions each carry their own dictionaries. The file
// Sink therefore unifies them: batches are spooled to a hidden temporary
// file as indices into a growing unified dictionary per column
// (array.DictionaryUnifier), and Close writes the file with one
// dictionary per column before the first batch. This costs one more
// write and read of the data, and memory for the distinct values; a
// column whose distinct values outgrow its index type (127 for int8)
// fails the Write that brings them. Dictionaries nested inside other
// types are written as they come (an error if they change). The stream
// format needs none of this: it allows a dictionary to be replaced
// between batches, and the Sink writes each batch's own dictionaries.
//
// # Ownership
//
// A batch returned by [Source.Read] belongs to the caller, who releases
// it; it stays valid after later Reads and after Close (for the file
// format it keeps the file's bytes alive until released). [Sink.Write]
// encodes the batch before it returns and keeps no reference to it.
package arrowfile
