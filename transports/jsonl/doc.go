// Package jsonl reads and writes newline-delimited JSON (JSON Lines,
// NDJSON) as PCS record batches: one JSON object per line, one row per
// object, one column per key.
//
// # Source
//
// [NewSource] opens a file, determines its schema, and Read yields its
// rows in batches of at most [DefaultBatchRows] rows ([WithBatchRows]).
// Blank lines are skipped (and counted in line numbers); a UTF-8 byte
// order mark is skipped; lines may end in "\n" or "\r\n" and may be of
// any length. Keys the schema does not have are ignored; a missing key
// or a JSON null is a null. Nullability is not enforced: a null in a
// column declared not nullable is read as a null.
//
// # Type inference
//
// Without [WithSchema], the Source reads the first [DefaultInferRows]
// objects ([WithInferRows]; -1 reads the whole file first) and makes
// one nullable column per key, in the order the keys first appear. A
// key's type, from its non-null values:
//
//   - all true/false: bool;
//   - all numbers without fraction or exponent that fit in int64: int64;
//   - all numbers, some with a fraction or an exponent (or integers
//     beyond int64): float64, so integers followed by floats give
//     float64;
//   - all strings "2006-01-02": date32;
//   - all strings that are ISO 8601 / RFC 3339 timestamps (the forms
//     arrow-go parses, as in package csv: "2006-01-02T15:04:05.999Z",
//     with a space for the "T", with or without an offset):
//     timestamp[us] (timestamp[ns] if a value has more than 6
//     fractional digits), in UTC if every value has an offset, without
//     a zone if none has one; a mix of both stays utf8;
//   - anything else (other strings, objects, arrays, values of several
//     JSON kinds, or only nulls): utf8.
//
// Nested objects and arrays are not mapped to structs and lists by the
// inference: they are kept as utf8 holding their compact JSON text
// (`{"a":1}`), and so is any non-string value in a utf8 column (a number
// 42 reads as "42"). Inferring structs from sampled objects gives wide,
// sparse and unstable schemas when objects vary from line to line; the
// text keeps every value and can be parsed later. Give the schema
// (WithSchema) to decode nested values natively: a struct column reads
// a JSON object, a list column a JSON array.
//
// A value after the inferred objects that does not fit the inferred
// type is a read error; a key first seen after them is ignored. Widen
// the inference (WithInferRows(-1)) or give the schema.
//
// # Decoding
//
// Values are decoded by arrow-go's builders (array.Builder.UnmarshalOne,
// the decoder behind array.NewJSONReader and array.RecordFromJSON), one
// line at a time, with UseNumber so that int64 values beyond 2^53 stay
// exact. The Source does not use array.NewJSONReader itself: it reports
// no line or column, accepts values spread over lines or several on
// one, and cannot keep nested values as text. What each type accepts is
// arrow-go's: numbers (or numeric strings) for numeric types, true/false
// for bool, base64 strings for binary types, "15:04:05.999" for times,
// decimal strings or numbers for decimals. Dates and timestamps are
// PCS's (the parser package csv uses for declared types): a string in
// any form that inference reads in this package or in package csv (ISO
// 8601 / RFC 3339, and the layouts "2006/01/02 15:04:05", "Jan 2 2006",
// ... of the csv package doc), or an integer count of days (date32),
// milliseconds (date64) or the timestamp's unit; a string with an offset
// is that instant, one without is read as UTC whatever the type's zone,
// and a timestamp read into a date column is its UTC day.
//
// # Errors
//
// A line that is not one JSON object (malformed JSON, another kind of
// value, a key given twice, data after the object) and a value that its
// column's type cannot take are a [*ParseError] naming the file, the
// line, the column by name and index, the type and the value, and
// wrapping [ErrSyntax] or [ErrBadValue].
//
// # Sink
//
// [NewSink] writes one object per row, keys in schema order, nulls as
// null, so that a Source given the same schema reads it back equal:
// integers and floats as JSON numbers (floats in their shortest exact
// form; NaN and infinities, which JSON numbers cannot express, as the
// strings "NaN", "+Inf" and "-Inf"); strings as JSON strings (invalid
// UTF-8 replaced by U+FFFD); binary types as base64 strings; dates as
// "2006-01-02" (outside years 0-9999, and date64 values that are not
// whole days, as integers); times as "15:04:05.999999999"; timestamps as
// "2006-01-02T15:04:05.999999999", with the offset of the type's time
// zone when it has one ("Z", "+09:00"), as integers outside years
// 0-9999; decimals as strings ("-12.3400"); structs and lists as JSON
// objects and arrays (arrow-go's JSON form). With [WithAtomicRename] the
// file appears under its name only when Close completed it.
//
// # Ownership
//
// A batch returned by [Source.Read] belongs to the caller, who releases
// it; it stays valid after later Reads and after Close. [Sink.Write]
// encodes the batch before it returns and keeps no reference to it.
package jsonl
