package files

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/arrowfile"
	"github.com/pcs-dev/pcs/transports/avro"
	"github.com/pcs-dev/pcs/transports/csv"
	"github.com/pcs-dev/pcs/transports/jsonl"
	"github.com/pcs-dev/pcs/transports/parquet"
)

// Open opens the file at path as a source of record batches. The format
// is detected as Sniff does (or given by WithFormat). The source is the
// format package's own (*parquet.Source, *arrowfile.Source, *csv.Source,
// *jsonl.Source, *avro.Source: type-assert it for their extra methods, such as
// (*parquet.Source).NumRows), except where WithColumns or WithSchema
// (Arrow, CSV, JSONL, Avro) or WithBatchRows (Arrow) need a wrapper around it. A .tsv file
// is read with tabs between fields. The caller closes the source.
//
// Options: WithFormat, WithAllocator, WithColumns or WithSchema,
// WithBatchRows, WithParallel, WithMaxLineBytes.
//
// Errors: those of Sniff; ErrUnsupported for a Create option;
// ErrInvalidOption; ErrUnknownColumn; the format package's errors, which
// name the file (a *transports.ParseError with the line and column for
// bad CSV or JSONL found while inferring the schema, or a line longer
// than WithMaxLineBytes).
func Open(path string, opts ...Option) (transports.Source, error) {
	cfg, format, err := prepare(opts, forOpen, path, Sniff)
	if err != nil {
		return nil, err
	}
	var fill *arrow.Schema // missing declared columns read as nulls
	if cfg.schema != nil {
		if cfg.columns != nil {
			return nil, fmt.Errorf("%w: %s: WithColumns and WithSchema both select columns: give one", ErrInvalidOption, path)
		}
		cfg.columns = make([]string, cfg.schema.NumFields())
		for i, f := range cfg.schema.Fields() {
			cfg.columns[i] = f.Name
		}
		if format == CSV || format == JSONL {
			fill = textSchema(cfg.schema)
		}
	}
	var src transports.Source
	switch format {
	case Parquet:
		po := []parquet.SourceOption{parquet.WithAllocator(cfg.mem), parquet.WithParallel(cfg.parallel)}
		if cfg.columns != nil {
			po = append(po, parquet.WithColumns(cfg.columns...))
		}
		if cfg.batchRows > 0 {
			po = append(po, parquet.WithBatchRows(cfg.batchRows))
		}
		src, err := parquet.NewSource(path, po...)
		if errors.Is(err, parquet.ErrUnknownColumn) {
			return nil, fmt.Errorf("%w: %w", ErrUnknownColumn, err)
		}
		if err != nil {
			return nil, err
		}
		return src, nil
	case ArrowFile, ArrowStream:
		s, err := arrowfile.NewSource(path, arrowfile.WithAllocator(cfg.mem))
		if err != nil {
			return nil, err
		}
		src = s
		if cfg.batchRows > 0 {
			src = &rebatch{Source: src, max: cfg.batchRows}
		}
	case CSV:
		co := []csv.SourceOption{csv.WithAllocator(cfg.mem)}
		if cfg.batchRows > 0 {
			co = append(co, csv.WithBatchRows(int(min(cfg.batchRows, 1<<31-1))))
		}
		if isTSV(path) {
			co = append(co, csv.WithDelimiter('\t'))
		}
		if cfg.maxLine > 0 {
			co = append(co, csv.WithMaxLineBytes(cfg.maxLine))
		}
		if cfg.parallel {
			co = append(co, csv.WithParallel(0))
		}
		if cfg.schema != nil {
			types, err := csvTypes(path, co, cfg.schema)
			if err != nil {
				return nil, err
			}
			co = append(co, csv.WithColumnTypes(types))
		}
		if src, err = csv.NewSource(path, co...); err != nil {
			return nil, err
		}
	case Avro:
		ao := []avro.SourceOption{avro.WithAllocator(cfg.mem)}
		if cfg.batchRows > 0 {
			ao = append(ao, avro.WithBatchRows(int(min(cfg.batchRows, 1<<31-1))))
		}
		if src, err = avro.NewSource(path, ao...); err != nil {
			return nil, err
		}
	case JSONL:
		jo := []jsonl.SourceOption{jsonl.WithAllocator(cfg.mem)}
		if cfg.batchRows > 0 {
			jo = append(jo, jsonl.WithBatchRows(int(min(cfg.batchRows, 1<<31-1))))
		}
		if cfg.maxLine > 0 {
			jo = append(jo, jsonl.WithMaxLineBytes(cfg.maxLine))
		}
		if cfg.schema != nil {
			jo = append(jo, jsonl.WithSchema(textSchema(cfg.schema)))
		}
		if src, err = jsonl.NewSource(path, jo...); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: %s: %v", ErrUnknownFormat, path, format)
	}
	if cfg.columns != nil {
		p, err := newProjection(src, cfg.columns, path, fill, cfg.mem)
		if err != nil {
			src.Close()
			return nil, err
		}
		src = p
	}
	return src, nil
}

// Create creates a sink that writes batches of schema to a file at path,
// in the format its extension names (FormatOf; or WithFormat). Every
// sink writes a hidden temporary file in path's directory and renames it
// to path when Close succeeds (after fsync of the file and the
// directory), so a reader never sees a partial file under path; a sink
// closed with a done ctx, or after a failed Write, removes its temporary
// file. An existing file at path is replaced only then. A .tsv file is
// written with tabs between fields. The caller closes the sink.
//
// Formats differ in what they keep: Parquet and Arrow keep every type,
// dictionaries included (an Arrow IPC file unifies the dictionaries of
// all batches into one per column, as the format requires); CSV and
// JSONL write dictionary columns as their values, and support fewer
// types (see their packages).
//
// Options: WithFormat, WithAllocator (Parquet and Arrow; CSV and JSONL
// decode dictionaries with the default allocator), and for Parquet only
// WithPartitionBy, WithRollRows, WithRollBytes (see parquet.NewSink for
// the file names they make).
//
// Errors: ErrUnknownFormat (an extension FormatOf does not know);
// ErrUnsupported (a Parquet-only option for another format, an Open
// option, or an .avro file: Avro is read only); ErrInvalidOption; the format package's errors (a type it
// cannot write, the file cannot be created), which name the file.
func Create(path string, schema *arrow.Schema, opts ...Option) (transports.Sink, error) {
	cfg, format, err := prepare(opts, forCreate, path, FormatOf)
	if err != nil {
		return nil, err
	}
	if format != Parquet {
		for _, g := range cfg.given {
			switch g.name {
			case "WithPartitionBy", "WithRollRows", "WithRollBytes":
				return nil, fmt.Errorf("%w: %s: %s needs a Parquet file, not %v", ErrUnsupported, path, g.name, format)
			}
		}
	}
	switch format {
	case Parquet:
		po := []parquet.SinkOption{parquet.WithAtomicRename(true), parquet.WithAllocator(cfg.mem)}
		if cfg.partitionBy != nil {
			po = append(po, parquet.WithPartitionBy(cfg.partitionBy...))
		}
		if cfg.rollRows > 0 {
			po = append(po, parquet.WithRollRows(cfg.rollRows))
		}
		if cfg.rollBytes > 0 {
			po = append(po, parquet.WithRollBytes(cfg.rollBytes))
		}
		return parquet.NewSink(path, schema, po...)
	case ArrowFile, ArrowStream:
		framing := arrowfile.FormatFile
		if format == ArrowStream {
			framing = arrowfile.FormatStream
		}
		return arrowfile.NewSink(path, schema, arrowfile.WithAtomicRename(true),
			arrowfile.WithAllocator(cfg.mem), arrowfile.WithFormat(framing))
	case CSV:
		co := []csv.SinkOption{csv.WithAtomicRename(true)}
		if isTSV(path) {
			co = append(co, csv.WithDelimiter('\t'))
		}
		return csv.NewSink(path, schema, co...)
	case JSONL:
		return jsonl.NewSink(path, schema, jsonl.WithAtomicRename(true))
	case Avro:
		return nil, fmt.Errorf("%w: %s: Avro files are read, not written: name it .parquet, .arrow, .csv or .jsonl", ErrUnsupported, path)
	}
	return nil, fmt.Errorf("%w: %s: %v", ErrUnknownFormat, path, format)
}

// csvTypes returns the declared types of the columns of the CSV file at
// path that schema declares, reading its header (and one row) with the
// source options co.
func csvTypes(path string, co []csv.SourceOption, schema *arrow.Schema) (map[string]arrow.DataType, error) {
	head, err := csv.NewSource(path, append(co, csv.WithInferRows(1))...)
	if err != nil {
		return nil, err
	}
	defer head.Close()
	types := map[string]arrow.DataType{}
	for _, f := range textSchema(schema).Fields() {
		if head.Schema().HasField(f.Name) {
			types[f.Name] = f.Type
		}
	}
	return types, nil
}

// textSchema returns schema with the types that CSV and JSONL cannot
// parse replaced by the ones whose text they hold: a dictionary by its
// value type, a duration by int64 (a count of its unit). Converting them
// to the declared types is the caller's business, as for Parquet and
// Arrow files.
func textSchema(schema *arrow.Schema) *arrow.Schema {
	fields := schema.Fields()
	changed := false
	for i, f := range fields {
		if t := textType(f.Type); t != f.Type {
			fields[i].Type, changed = t, true
		}
	}
	if !changed {
		return schema
	}
	md := schema.Metadata()
	return arrow.NewSchema(fields, &md)
}

func textType(dt arrow.DataType) arrow.DataType {
	switch dt := dt.(type) {
	case *arrow.DictionaryType:
		return textType(dt.ValueType)
	case *arrow.DurationType:
		return arrow.PrimitiveTypes.Int64
	}
	return dt
}

// prepare applies opts for call (forOpen or forCreate) on path and
// returns the config and the format: WithFormat's, or detect's.
func prepare(opts []Option, call use, path string, detect func(string) (Format, error)) (*config, Format, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, 0, err
	}
	if err := cfg.check(call, path); err != nil {
		return nil, 0, err
	}
	if cfg.format != 0 {
		return cfg, cfg.format, nil
	}
	format, err := detect(path)
	return cfg, format, err
}

func isTSV(path string) bool { return strings.EqualFold(filepath.Ext(path), ".tsv") }
