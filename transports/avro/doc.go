// Package avro reads Avro object container files (.avro, magic
// "Obj\x01") as record batches, through arrow-go's arrow/avro reader.
//
// The Avro schema in the file's header gives the Arrow schema
// (avro.ArrowSchemaFromAvro's mapping): int is int32, long int64, float
// float32, double float64, string utf8, bytes binary, a union of null and
// one type a nullable column of that type, record a struct, array a list,
// map a map, enum a dictionary; the logical types date, time-millis,
// time-micros, timestamp-millis, timestamp-micros (UTC timestamps),
// decimal and uuid keep their meaning. Blocks compressed with deflate,
// snappy or zstandard are read.
//
// A Source is read-only: PCS writes Parquet, Arrow, CSV and JSONL, not
// Avro. package files opens .avro files (and any file starting with the
// magic) with it, so pcs run, pcs publish and table resources read them.
package avro
