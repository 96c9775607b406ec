// Package csv reads and writes CSV files as PCS record batches, on top of
// arrow-go's arrow/csv reader and writer.
//
// # Source
//
// [NewSource] opens a file, determines its schema, and Read yields its
// rows in batches of at most [DefaultBatchRows] rows ([WithBatchRows]),
// parsed by arrow-go's csv.NewReader (csv.WithChunk). The first record
// is the header ([WithHeader]); fields are separated by commas
// ([WithDelimiter]); a UTF-8 byte order mark is skipped. Empty cells are
// null in every column, strings included, as are the texts given to
// [WithNullValues].
//
// # Type inference
//
// Unlike arrow-go's csv.NewInferringReader, which looks at the first data
// row only, the Source infers each column's type from the first
// [DefaultInferRows] data rows ([WithInferRows]; -1 reads the whole file
// first), ignoring null cells, then hands the schema to arrow-go's
// reader. A column becomes the first type of this list that all its
// values fit:
//
//  1. int64: decimal integers ("42", "-7", "+3", "007").
//  2. float64: anything strconv.ParseFloat accepts ("1.5", "1e-3",
//     "NaN", "Inf"). A column of integers with one float among the
//     inferred rows is float64.
//  3. bool: true/false, True/False or TRUE/FALSE ("1"/"0" are integers).
//  4. date32: "2006-01-02".
//  5. timestamp (ISO 8601 / RFC 3339, the forms arrow-go parses):
//     "2006-01-02T15:04:05", with a space instead of the "T", with
//     minutes or hours only, with up to 9 fractional digits, optionally
//     ending with "Z" or an offset (±07, ±0700, ±07:00, ±070000,
//     ±07:00:00); a date alone counts as midnight. The unit is
//     microseconds (nanoseconds when a value has more than 6 fractional
//     digits). If every value carries an offset the type is
//     timestamp[us, tz=UTC] (instants); if none does, timestamp[us] with
//     no zone (wall-clock times, stored as if UTC). A column that mixes
//     both is utf8.
//  6. other common layouts, converted by the Source after arrow-go read
//     them as text: "2006/01/02 15:04:05" and "2006/01/02 15:04" as
//     timestamp[us] (no zone); "2006/01/02", "Jan 2 2006",
//     "Jan 2, 2006", "2 Jan 2006", "January 2 2006" and
//     "January 2, 2006" as date32. Ambiguous layouts such as
//     "01/02/2006" (US or European?) are not guessed: they stay utf8,
//     and a declared type cannot parse them either.
//  7. utf8, also for columns with no value among the inferred rows (all
//     empty).
//
// Inferred columns are nullable. Column names come from the header; an
// empty name becomes "f<index>", and without a header all names are
// "f0", "f1", .... [WithColumnTypes] fixes the type of chosen columns;
// [WithSchema] gives the whole schema and turns inference off (the
// header, if any, must then name the same columns).
//
// Cells are parsed by arrow-go's rules for the column's type, given or
// inferred: integers and floats as strconv parses them; bool as
// strconv.ParseBool (1, t, T, TRUE, true, True, 0, f, ...); binary types
// as base64 (standard, padded); decimals in plain notation. Date and
// timestamp columns whose type is given (WithSchema, WithColumnTypes)
// read every form inference reads (points 4 to 6: the ISO forms and the
// layouts), or an integer count of the type's days, milliseconds (date64)
// or unit; a value with an offset is that instant, one without is read
// as UTC (what arrow-go and a cast of an inferred zoneless column do),
// and a timestamp read into a date column is its UTC day. A column
// inferred from a layout reads the other forms too. So declaring a
// column's type never rejects a value that inference would read.
//
// A value after the inferred rows that does not fit the inferred type
// (a float in an int64 column at row 20,000) is a read error: widen the
// inference (WithInferRows(-1)) or give the type.
//
// # Errors
//
// A bad cell, a record with the wrong number of fields or malformed CSV
// is a [*ParseError] that names the file, the line (1-based, counting the
// newlines inside quoted fields), the column by name and index, the type
// and the value, and wraps [ErrBadValue], [ErrFieldCount] or
// [ErrSyntax]. arrow-go's reader reports only the first error of a batch
// and no position, so the Source reads the batch's records again with
// encoding/csv (only when an error happened) to find the line.
//
// # Sink
//
// [NewSink] writes batches of one schema with arrow-go's csv.Writer: a
// header (the column names), then one record per row; see NewSink for
// how values are formatted. What a Sink writes, a Source given the same
// schema (WithSchema) reads back equal, except that empty strings and
// empty binary values read back as null. With [WithAtomicRename] the
// file appears under its name only when Close completed it.
//
// CSV holds flat tables: nested types (lists, structs, maps), times of
// day, durations and intervals are not supported ([ErrUnsupportedType]).
//
// # Ownership
//
// A batch returned by [Source.Read] belongs to the caller, who releases
// it; it stays valid after later Reads and after Close. [Sink.Write]
// formats the batch before it returns and keeps no reference to it.
package csv
