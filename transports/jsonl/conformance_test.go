package jsonl_test

import (
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/jsonl"
	"github.com/pcs-dev/pcs/transports/transporttest"
)

func TestConformance(t *testing.T) {
	for _, atomic := range []bool{false, true} {
		name := "in-place"
		if atomic {
			name = "atomic-rename"
		}
		t.Run(name, func(t *testing.T) {
			transporttest.Run(t, transporttest.Harness{
				Open: func(t *testing.T, mem memory.Allocator) transporttest.Endpoint {
					path := filepath.Join(t.TempDir(), "data.jsonl")
					return transporttest.Endpoint{
						NewSink: func(sc *arrow.Schema) (transports.Sink, error) {
							return jsonl.NewSink(path, sc, jsonl.WithAtomicRename(atomic))
						},
						NewSource: func(sc *arrow.Schema) (transports.Source, error) {
							return jsonl.NewSource(path, jsonl.WithSchema(sc), jsonl.WithAllocator(mem))
						},
					}
				},
				Skip: skipLarge(atomic),
				Caps: transporttest.Capabilities{Types: transporttest.AllTypes(), CloseIdempotent: true},
			})
		})
	}
}

// skipLarge leaves the 68 MiB round trip to the in-place run: the
// atomic-rename sink differs only in the file name at Close, and the
// sub-test takes seconds with -race.
func skipLarge(atomic bool) map[string]string {
	if !atomic {
		return nil
	}
	return map[string]string{"LargeBatch": "run by the in-place variant"}
}
