package transporttest_test

import (
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/arrowfile"
	"github.com/pcs-dev/pcs/transports/parquet"
	"github.com/pcs-dev/pcs/transports/transporttest"
)

// The suite runs here against the transports whose packages this one
// may not add files to; csv, jsonl and memory run it in their own tests.

// parquetNested is the known failure of package parquet: the values of
// nested columns round trip, their schema does not.
const parquetNested = "parquet: the schema of nested columns does not read back equal: " +
	"a list's element field comes back named \"element\" instead of \"item\", and the child fields of " +
	"lists and structs carry \"PARQUET:field_id\": \"-1\" metadata (Source drops it from top-level fields only); " +
	"the values are equal"

func parquetHarness(types []arrow.DataType, skip map[string]string) transporttest.Harness {
	return transporttest.Harness{
		Open: func(t *testing.T, mem memory.Allocator) transporttest.Endpoint {
			path := filepath.Join(t.TempDir(), "data.parquet")
			return transporttest.Endpoint{
				NewSink: func(sc *arrow.Schema) (transports.Sink, error) {
					return parquet.NewSink(path, sc, parquet.WithAllocator(mem))
				},
				NewSource: func(*arrow.Schema) (transports.Source, error) {
					return parquet.NewSource(path, parquet.WithAllocator(mem))
				},
			}
		},
		Caps: transporttest.Capabilities{Types: types, CloseIdempotent: true},
		Skip: skip,
	}
}

// TestParquet runs the suite with the scalar types; TestParquetNested
// adds lists and structs.
func TestParquet(t *testing.T) {
	transporttest.Run(t, parquetHarness(transporttest.ScalarTypes(), nil))
}

// TestParquetNested runs the round trips of nested types, which fail
// (parquetNested), and skips what TestParquet ran.
func TestParquetNested(t *testing.T) {
	skip := map[string]string{
		"RoundTrip/list_int32": parquetNested,
		"RoundTrip/struct":     parquetNested,
		"RoundTrip/all-types":  parquetNested,
		"Sliced":               parquetNested,
	}
	for _, name := range []string{"EmptyBatches", "SchemaMismatch", "LargeBatch", "Cancel", "Flush", "EOF", "Close"} {
		skip[name] = "run by TestParquet"
	}
	transporttest.Run(t, parquetHarness(transporttest.NestedTypes(), skip))
}

func TestArrowFile(t *testing.T) {
	for _, format := range []arrowfile.Format{arrowfile.FormatFile, arrowfile.FormatStream} {
		t.Run(format.String(), func(t *testing.T) {
			transporttest.Run(t, transporttest.Harness{
				Open: func(t *testing.T, mem memory.Allocator) transporttest.Endpoint {
					path := filepath.Join(t.TempDir(), "data.arrow")
					return transporttest.Endpoint{
						NewSink: func(sc *arrow.Schema) (transports.Sink, error) {
							return arrowfile.NewSink(path, sc, arrowfile.WithAllocator(mem), arrowfile.WithFormat(format))
						},
						NewSource: func(*arrow.Schema) (transports.Source, error) {
							return arrowfile.NewSource(path, arrowfile.WithAllocator(mem))
						},
					}
				},
				Caps: transporttest.Capabilities{Types: transporttest.AllTypes(), CloseIdempotent: true},
			})
		})
	}
}
