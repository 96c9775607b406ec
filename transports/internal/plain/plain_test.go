package plain_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/csv"
	"github.com/pcs-dev/pcs/transports/internal/plain"
	"github.com/pcs-dev/pcs/transports/jsonl"
)

// TestDictionarySinks: CSV and JSON Lines sinks write a dictionary column
// as its values, nulls (null indices) included.
func TestDictionarySinks(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "city", Type: dt, Nullable: true}}, nil)
	if got := plain.Schema(schema).Field(1).Type; !arrow.TypeEqual(got, arrow.BinaryTypes.String) {
		t.Fatalf("plain type %s", got)
	}
	ib := array.NewInt32Builder(mem)
	ib.AppendValues([]int32{1, 0, 0}, []bool{true, false, true})
	idx := ib.NewInt32Array()
	ib.Release()
	sb := array.NewStringBuilder(mem)
	sb.AppendValues([]string{"Paris", "Oslo"}, nil)
	dict := sb.NewStringArray()
	sb.Release()
	city := array.NewDictionaryArray(dt, idx, dict)
	idx.Release()
	dict.Release()
	ids := array.NewInt64Builder(mem)
	ids.AppendValues([]int64{1, 2, 3}, nil)
	id := ids.NewArray()
	ids.Release()
	rec := array.NewRecordBatch(schema, []arrow.Array{id, city}, 3)
	id.Release()
	city.Release()
	defer rec.Release()

	dir := t.TempDir()
	for name, want := range map[string]string{
		"out.csv":   "id,city\n1,Oslo\n2,\n3,Paris\n",
		"out.jsonl": "{\"id\":1,\"city\":\"Oslo\"}\n{\"id\":2,\"city\":null}\n{\"id\":3,\"city\":\"Paris\"}\n",
	} {
		path := filepath.Join(dir, name)
		var sink transports.Sink
		var err error
		if filepath.Ext(name) == ".csv" {
			sink, err = csv.NewSink(path, schema)
		} else {
			sink, err = jsonl.NewSink(path, schema)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := sink.Write(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s:\n%s\nwant\n%s", name, got, want)
		}
	}
}
