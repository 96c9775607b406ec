package csv_test

import (
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/csv"
	"github.com/pcs-dev/pcs/transports/transporttest"
)

// csvTypes are the types of the suite's catalogue that CSV holds.
func csvTypes() []arrow.DataType {
	return transporttest.Without(transporttest.ScalarTypes(),
		arrow.FixedWidthTypes.Time32s, arrow.FixedWidthTypes.Time32ms,
		arrow.FixedWidthTypes.Time64us, arrow.FixedWidthTypes.Time64ns)
}

func TestConformance(t *testing.T) {
	for _, v := range []struct {
		name     string
		atomic   bool
		parallel int
	}{{"in-place", false, 1}, {"atomic-rename", true, 1}, {"parallel", false, 3}} {
		atomic := v.atomic
		t.Run(v.name, func(t *testing.T) {
			transporttest.Run(t, transporttest.Harness{
				Open: func(t *testing.T, mem memory.Allocator) transporttest.Endpoint {
					path := filepath.Join(t.TempDir(), "data.csv")
					return transporttest.Endpoint{
						NewSink: func(sc *arrow.Schema) (transports.Sink, error) {
							return csv.NewSink(path, sc, csv.WithAtomicRename(atomic))
						},
						NewSource: func(sc *arrow.Schema) (transports.Source, error) {
							return csv.NewSource(path, csv.WithSchema(sc), csv.WithAllocator(mem), csv.WithParallel(v.parallel))
						},
					}
				},
				Skip: skipLarge(atomic || v.parallel > 1),
				Caps: transporttest.Capabilities{
					Types:           csvTypes(),
					EmptyIsNull:     true,
					CloseIdempotent: true,
				},
			})
		})
	}
}

// skipLarge leaves the 68 MiB round trip to the in-place run: the
// atomic-rename sink differs only in the file name at Close, the
// parallel source is checked against the serial one by
// TestParallelSameBatches, and the sub-test takes seconds with -race.
func skipLarge(skip bool) map[string]string {
	if !skip {
		return nil
	}
	return map[string]string{"LargeBatch": "run by the in-place variant"}
}
