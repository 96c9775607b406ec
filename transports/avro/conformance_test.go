package avro_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hamba/avro/v2/ocf"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/avro"
	"github.com/pcs-dev/pcs/transports/transporttest"
)

// avroTypes are the types of the suite's catalogue that an Avro file
// holds and arrow/avro reads back as the same Arrow type.
func avroTypes() []arrow.DataType {
	return []arrow.DataType{
		arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64,
		arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float64,
		arrow.FixedWidthTypes.Boolean, arrow.BinaryTypes.String, arrow.BinaryTypes.Binary,
		arrow.FixedWidthTypes.Date32,
		&arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: transporttest.ZoneUTC},
		&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: transporttest.ZoneUTC},
	}
}

// TestConformance runs the transport suite over avro.Source. Avro is
// read only in PCS, so the sink of the harness is a fixture: it writes
// the batches with hamba/avro's OCF encoder (a writer independent of the
// reader under test) when it is closed.
func TestConformance(t *testing.T) {
	transporttest.Run(t, transporttest.Harness{
		Open: func(t *testing.T, mem memory.Allocator) transporttest.Endpoint {
			path := filepath.Join(t.TempDir(), "data.avro")
			return transporttest.Endpoint{
				NewSink: func(sc *arrow.Schema) (transports.Sink, error) {
					return newFixtureSink(path, sc)
				},
				NewSource: func(*arrow.Schema) (transports.Source, error) {
					return avro.NewSource(path, avro.WithAllocator(mem))
				},
			}
		},
		Caps: transporttest.Capabilities{Types: avroTypes(), CloseIdempotent: true},
		Skip: map[string]string{
			"LargeBatch": "the fixture writer goes through a Go map per row: tens of seconds for 68 MiB",
		},
	})
}

// fixtureSink collects rows as Go values and writes them as an Avro
// object container file at Close.
type fixtureSink struct {
	path   string
	schema *arrow.Schema
	avro   string
	rows   []map[string]any
	closed bool
}

func newFixtureSink(path string, sc *arrow.Schema) (*fixtureSink, error) {
	fields := make([]map[string]any, sc.NumFields())
	for i, f := range sc.Fields() {
		var typ any
		switch dt := f.Type.(type) {
		case *arrow.Int32Type:
			typ = "int"
		case *arrow.Int64Type:
			typ = "long"
		case *arrow.Float32Type:
			typ = "float"
		case *arrow.Float64Type:
			typ = "double"
		case *arrow.BooleanType:
			typ = "boolean"
		case *arrow.StringType:
			typ = "string"
		case *arrow.BinaryType:
			typ = "bytes"
		case *arrow.Date32Type:
			typ = map[string]any{"type": "int", "logicalType": "date"}
		case *arrow.TimestampType:
			lt := map[arrow.TimeUnit]string{arrow.Millisecond: "timestamp-millis", arrow.Microsecond: "timestamp-micros"}[dt.Unit]
			typ = map[string]any{"type": "long", "logicalType": lt}
		default:
			return nil, fmt.Errorf("fixture: no Avro type for %s", f.Type)
		}
		if f.Nullable {
			typ = []any{"null", typ}
		}
		fields[i] = map[string]any{"name": f.Name, "type": typ}
	}
	js, err := json.Marshal(map[string]any{"type": "record", "name": "row", "fields": fields})
	if err != nil {
		return nil, err
	}
	return &fixtureSink{path: path, schema: sc, avro: string(js)}, nil
}

func (s *fixtureSink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if s.closed {
		return errors.New("fixture: sink closed")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !rec.Schema().Equal(s.schema) {
		return fmt.Errorf("%w: %s", transports.ErrSchemaMismatch, rec.Schema())
	}
	for r := 0; r < int(rec.NumRows()); r++ {
		row := make(map[string]any, rec.NumCols())
		for i, f := range s.schema.Fields() {
			col := rec.Column(i)
			if col.IsNull(r) {
				row[f.Name] = nil
				continue
			}
			var v any
			switch c := col.(type) {
			case *array.Int32:
				v = int(c.Value(r))
			case *array.Int64:
				v = c.Value(r)
			case *array.Float32:
				v = c.Value(r)
			case *array.Float64:
				v = c.Value(r)
			case *array.Boolean:
				v = c.Value(r)
			case *array.String:
				v = c.Value(r)
			case *array.Binary:
				v = append([]byte{}, c.Value(r)...)
			case *array.Date32:
				v = c.Value(r).ToTime()
			case *array.Timestamp:
				v = c.Value(r).ToTime(f.Type.(*arrow.TimestampType).Unit).UTC()
			}
			row[f.Name] = v
		}
		s.rows = append(s.rows, row)
	}
	return nil
}

func (s *fixtureSink) Flush(ctx context.Context) error { return ctx.Err() }

func (s *fixtureSink) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Create(s.path)
	if err != nil {
		return err
	}
	enc, err := ocf.NewEncoder(s.avro, f, ocf.WithBlockLength(64))
	if err != nil {
		f.Close()
		return err
	}
	for _, row := range s.rows {
		if err := enc.Encode(row); err != nil {
			f.Close()
			return fmt.Errorf("fixture: encode %v: %w", row, err)
		}
	}
	if err := enc.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
