package expr_test

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs/expr"
)

// The reference docs/expressions.md lists examples as lines
// "expression  =>  type [values]" or "expression  =>  error <message>" in
// fenced blocks marked pcs-expr. They run on this batch, which the doc
// shows as a table.

var docSchema = arrow.NewSchema([]arrow.Field{
	{Name: "delay", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "distance", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "origin", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "dest", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "date", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	{Name: "cancelled", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "ratio", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

func docBatch(mem memory.Allocator) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, docSchema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{20, -5, 0, 15}, []bool{true, true, false, true})
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1000, 300, 0, 2500}, nil)
	b.Field(2).(*array.LargeStringBuilder).AppendValues([]string{"JFK", "LAX", "SFO", ""}, []bool{true, true, true, false})
	b.Field(3).(*array.StringBuilder).AppendValues([]string{"LAX", "SFO", "", "JFK"}, []bool{true, true, false, true})
	at := func(s string) arrow.Timestamp {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return arrow.Timestamp(t.UnixMicro())
	}
	b.Field(4).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{at("2001-01-01T08:00:00Z"), at("2001-01-01T09:30:00Z"), at("2001-01-02T00:00:00Z"), 0}, []bool{true, true, true, false})
	b.Field(5).(*array.BooleanBuilder).AppendValues([]bool{false, false, true, false}, []bool{true, true, true, false})
	b.Field(6).(*array.Float64Builder).AppendValues([]float64{1.5, 0.5, 0, 2.25}, []bool{true, true, false, true})
	return b.NewRecordBatch()
}

// render prints an array the way the doc writes results.
func render(a arrow.Array) string {
	vals := make([]string, a.Len())
	for i := range vals {
		if a.IsNull(i) {
			vals[i] = "null"
			continue
		}
		switch a := a.(type) {
		case *array.Int64:
			vals[i] = strconv.FormatInt(a.Value(i), 10)
		case *array.Float64:
			vals[i] = strconv.FormatFloat(a.Value(i), 'g', -1, 64)
		case *array.Boolean:
			vals[i] = strconv.FormatBool(a.Value(i))
		case *array.String:
			vals[i] = "'" + a.Value(i) + "'"
		case *array.LargeString:
			vals[i] = "'" + a.Value(i) + "'"
		case *array.Timestamp:
			unit := a.DataType().(*arrow.TimestampType).Unit
			vals[i] = a.Value(i).ToTime(unit).UTC().Format(time.RFC3339Nano)
		case *array.Date32:
			vals[i] = a.Value(i).FormattedString()
		case *array.Duration:
			unit := a.DataType().(*arrow.DurationType).Unit
			vals[i] = (time.Duration(a.Value(i)) * unit.Multiplier()).String()
		default:
			vals[i] = a.ValueStr(i)
		}
	}
	return a.DataType().String() + " [" + strings.Join(vals, ", ") + "]"
}

type docExample struct {
	line     int
	src      string
	expected string
}

func docExamples(t *testing.T) []docExample {
	f, err := os.Open("../../docs/expressions.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docExample
	in := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```pcs-expr"):
			in = true
		case in && strings.HasPrefix(line, "```"):
			in = false
		case in && strings.TrimSpace(line) != "":
			src, want, ok := strings.Cut(line, " => ")
			if !ok {
				t.Fatalf("expressions.md:%d: no ' => ' in %q", n, line)
			}
			out = append(out, docExample{n, strings.TrimSpace(src), strings.TrimSpace(want)})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDocExamples runs every example of docs/expressions.md.
func TestDocExamples(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rec := docBatch(mem)
	defer rec.Release()
	examples := docExamples(t)
	if len(examples) < 50 {
		t.Fatalf("only %d examples found in docs/expressions.md", len(examples))
	}
	for _, ex := range examples {
		got, err := evalDoc(ex.src, rec, mem)
		if err != nil {
			got = "error " + strings.TrimPrefix(err.Error(), "expr: ")
		}
		if got != ex.expected {
			t.Errorf("expressions.md:%d: %s\n   got: %s\n  want: %s", ex.line, ex.src, got, ex.expected)
		}
	}
}

func evalDoc(src string, rec arrow.RecordBatch, mem memory.Allocator) (string, error) {
	x, err := expr.Compile(src, docSchema)
	if err != nil {
		return "", err
	}
	out, err := x.Eval(context.Background(), rec, mem)
	if err != nil {
		return "", err
	}
	defer out.Release()
	return render(out), nil
}
