package growth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var flightsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "date", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	{Name: "delay", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "distance", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "origin", Type: arrow.BinaryTypes.LargeString, Nullable: true},
}, nil)

// flightsBatch builds a batch of rows (date in whole days, delay, distance);
// a negative delay is null.
func flightsBatch(mem memory.Allocator, rows [][3]int64) arrow.RecordBatch {
	bld := array.NewRecordBuilder(mem, flightsSchema)
	defer bld.Release()
	for _, r := range rows {
		bld.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(r[0] * microsPerDay))
		if r[1] < 0 {
			bld.Field(1).AppendNull()
		} else {
			bld.Field(1).(*array.Int64Builder).Append(r[1])
		}
		bld.Field(2).(*array.Int64Builder).Append(r[2])
		bld.Field(3).(*array.LargeStringBuilder).Append("SFO")
	}
	return bld.NewRecordBatch()
}

// TestEachShiftsAndSums checks the generator on a tiny input: copies are
// shifted by whole days beyond the data's span, Expect agrees with what
// Each yields, the sums of the filtered rows equal the expected ones,
// and a wrong output is told apart.
func TestEachShiftsAndSums(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	// Days 10 to 12 and a half: the span rounds up to 3 days.
	b1 := flightsBatch(mem, [][3]int64{{10, 5, 100}, {11, -1, 200}, {12, 20, 0}})
	b2 := flightsBatch(mem, [][3]int64{{12, 30, 300}})
	c := b2.Column(0).(*array.Timestamp)
	c.TimestampValues()[0] += arrow.Timestamp(microsPerDay / 2)
	base, err := NewBase([]arrow.RecordBatch{b1, b2})
	if err != nil {
		t.Fatal(err)
	}
	defer base.Release()
	if base.Span != 3*microsPerDay {
		t.Fatalf("span %d days, want 3", base.Span/microsPerDay)
	}
	const rows = 10 // 2 full copies and 2 rows of a third
	want, err := base.Expect(rows)
	if err != nil {
		t.Fatal(err)
	}
	var got, yielded Sums
	var firstDates []int64
	n := int64(0)
	err = base.Each(rows, func(rec arrow.RecordBatch, w Sums) error {
		n += rec.NumRows()
		yielded.Add(w)
		firstDates = append(firstDates, int64(rec.Column(0).(*array.Timestamp).Value(0))/microsPerDay)
		// What the pipeline would output: the rows its filter keeps.
		keep := []int64{}
		delay, dist := rec.Column(1).(*array.Int64), rec.Column(2).(*array.Int64)
		for i := range int(rec.NumRows()) {
			if delay.IsValid(i) && dist.Value(i) > 0 {
				keep = append(keep, int64(i))
			}
		}
		for _, i := range keep {
			row := rec.NewSlice(i, i+1)
			s, err := OutputSums(row)
			row.Release()
			if err != nil {
				return err
			}
			got.Add(s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != rows {
		t.Fatalf("Each yielded %d rows, want %d", n, rows)
	}
	if want := []int64{10, 12, 13, 15, 16}; len(firstDates) != len(want) || firstDates[2] != want[2] || firstDates[3] != want[3] || firstDates[4] != want[4] {
		t.Fatalf("partitions start on days %v, want %v", firstDates, want)
	}
	if yielded != want || got != want {
		t.Fatalf("Each's sums %+v, the filtered rows' %+v, Expect's %+v", yielded, got, want)
	}
	// Copies 0, 1, 2 keep rows 1 and 4 (delay 5 and 30); copy 2 has only rows 1-2.
	if want.Rows != 5 || want.Delay != 5*3+30*2 || want.Distance != 100*3+300*2 {
		t.Fatalf("Expect %+v", want)
	}
	// A wrong answer: a row the filter drops, or a date not shifted.
	if _, err := OutputSums(b1); err == nil {
		t.Error("OutputSums accepted a null delay")
	}
	unshifted := want
	unshifted.Dates -= base.Span
	if unshifted == want {
		t.Error("an unshifted date goes unnoticed")
	}
}

// TestNodeConfig checks that the flights demo's node.toml has the output
// line NodeConfig replaces and the [broker] section ExternalConfig
// replaces, and that only they change.
func TestNodeConfig(t *testing.T) {
	toml, err := os.ReadFile(filepath.Join("..", "..", "examples", "flights", "node.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := NodeConfig(string(toml))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cfg, `retention = "workqueue"`) || !strings.Contains(cfg, `use = "filter"`) {
		t.Fatalf("config:\n%s", cfg)
	}
	ext, err := ExternalConfig(cfg, "nats://127.0.0.1:4999")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ext, "[broker]\nurl = \"nats://127.0.0.1:4999\"\n") || strings.Contains(ext, "store_dir") ||
		strings.Contains(ext, "PCS_LISTEN") || strings.Replace(ext, "url = \"nats://127.0.0.1:4999\"\n", brokerSection[len("[broker]\n"):], 1) != cfg {
		t.Fatalf("external config:\n%s", ext)
	}
}

// TestWritePlot checks that the plot is a PNG file.
func TestWritePlot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.png")
	if err := WritePlot(path, "test", []Point{{"4k", 1e6}, {"16k", 2e6}, {"64k", 2.5e6}, {"256k", 2.2e6}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "\x89PNG") {
		t.Fatalf("not a PNG: % x", b[:8])
	}
}
