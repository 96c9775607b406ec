// Package files is the one way PCS opens and creates data files: Parquet,
// Arrow IPC (file and stream framing), CSV and JSON Lines. It chooses the
// format and hands the work to the format's package (parquet, arrowfile,
// csv, jsonl), so that every command and pipeline that reads or writes
// files agrees on names, detection and guarantees:
//
//   - [Sniff] tells a file's format by its first bytes ("PAR1" Parquet,
//     "ARROW1" Arrow IPC file, 0xFFFFFFFF Arrow IPC stream), then by its
//     extension, then by a first line that is a JSON object; [FormatOf]
//     by the extension only (.parquet; .arrow, .ipc, .feather; .arrows;
//     .csv, .tsv; .jsonl, .ndjson).
//   - [Open] returns a transports.Source; options select columns
//     (Parquet reads only those from disk), batch sizes and decoding in
//     parallel. [WithSchema] reads the columns a caller declared: CSV and
//     JSONL parse them as the declared types (no inference for them) and
//     read declared columns they lack as nulls; Parquet and Arrow files
//     must have them.
//   - [Create] returns a transports.Sink that writes a temporary file and
//     renames it into place when Close succeeds, for every format: a file
//     under its final name is always complete. An Arrow IPC file sink
//     unifies the dictionaries of dictionary-encoded columns across
//     batches (the file format allows one dictionary per column).
//     Parquet sinks can partition (Hive directories) and roll files.
//
// Errors name the file; an unknown format or an option the format does
// not support wrap [ErrUnknownFormat] and [ErrUnsupported].
//
// # Ownership
//
// As everywhere in transports: a batch returned by Read belongs to the
// caller, who releases it; Write does not take over the batch it is
// given.
package files
