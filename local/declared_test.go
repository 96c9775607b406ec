package local_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/local"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/files"
)

// runTOML writes files (name -> content) into a temporary directory,
// runs the TOML pipeline (DIR replaced by the directory) with pcs run's
// local.Run and returns the directory and the error.
func runTOML(t *testing.T, toml string, in map[string]string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range in {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := plan.ParseFile("p.toml", []byte(strings.ReplaceAll(toml, "DIR", dir)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = local.Run(context.Background(), cfg.Pipelines, plan.DefaultRegistry(), nil, nil)
	return dir, err
}

func readOut(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRunStringEventTimes: the case: an event time declared
// string with time_format = "rfc3339", from CSV and from JSON Lines,
// reaches the window as the text the file has (the reader no longer
// infers a timestamp that conformance turns back into other text).
func TestRunStringEventTimes(t *testing.T) {
	const toml = `
[[pipeline]]
name = "s"
input = { files = ["DIR/in.EXT"], component = "click" }
output = { file = "DIR/out.csv" }

[[pipeline.component]]
name = "click"
fields = ["at: string", "user: string"]

[[pipeline.system]]
use = "window"
options = { time = "at", time_format = "rfc3339", window = "tumbling(1m)", keys = ["user"], aggregates = ["count(*) as n"] }
`
	want := "user,window_start,window_end,n,is_update\n" +
		"u1,2024-01-01 00:00:00Z,2024-01-01 00:01:00Z,2,false\n" +
		"u1,2024-01-01 00:01:00Z,2024-01-01 00:02:00Z,1,false\n"
	for ext, content := range map[string]string{
		"csv":   "at,user\n2024-01-01T00:00:10Z,u1\n2024-01-01T00:00:50.5Z,u1\n2024-01-01T00:01:00+00:00,u1\n",
		"jsonl": `{"at": "2024-01-01T00:00:10Z", "user": "u1"}` + "\n" + `{"at": "2024-01-01T00:00:50.5Z", "user": "u1"}` + "\n" + `{"at": "2024-01-01T00:01:00+00:00", "user": "u1"}` + "\n",
	} {
		t.Run(ext, func(t *testing.T) {
			dir, err := runTOML(t, strings.ReplaceAll(toml, "EXT", ext), map[string]string{"in." + ext: content})
			if err != nil {
				t.Fatal(err)
			}
			if got := readOut(t, filepath.Join(dir, "out.csv")); got != want {
				t.Errorf("out.csv:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestRunMissingDeclaredKey: a declared key column that no input row has
// reads as nulls (JSON Lines, CSV), so the window groups the rows under
// the null key as SQL does; a Parquet file without it is a one-line error
// naming the column, the file and the file's columns.
func TestRunMissingDeclaredKey(t *testing.T) {
	const toml = `
[[pipeline]]
name = "w"
input = { files = ["DIR/in.EXT"], component = "line" }
output = { file = "DIR/out.csv" }

[[pipeline.component]]
name = "line"
fields = ["ts: int64", "word: string", "v: int64"]

[[pipeline.system]]
use = "window"
options = { time = "ts", time_unit = "s", window = "tumbling(1m)", keys = ["word"], aggregates = ["sum(v) as total", "count(*) as n"] }
`
	want := "word,window_start,window_end,total,n,is_update\n" +
		",1970-01-01 00:00:00Z,1970-01-01 00:01:00Z,3,2,false\n"
	for ext, content := range map[string]string{
		"jsonl": `{"ts": 1, "v": 1}` + "\n" + `{"ts": 2, "v": 2}` + "\n",
		"csv":   "ts,v\n1,1\n2,2\n",
	} {
		t.Run(ext, func(t *testing.T) {
			dir, err := runTOML(t, strings.ReplaceAll(toml, "EXT", ext), map[string]string{"in." + ext: content})
			if err != nil {
				t.Fatal(err)
			}
			if got := readOut(t, filepath.Join(dir, "out.csv")); got != want {
				t.Errorf("out.csv:\n%s\nwant\n%s", got, want)
			}
		})
	}
	t.Run("parquet", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "in.parquet")
		schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
		sink, err := files.Create(path, schema)
		if err != nil {
			t.Fatal(err)
		}
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		b.Field(0).(*array.Int64Builder).Append(1)
		b.Field(1).(*array.Int64Builder).Append(1)
		rec := b.NewRecordBatch()
		b.Release()
		err = sink.Write(context.Background(), rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		cfg, err := plan.ParseFile("p.toml", []byte(strings.ReplaceAll(strings.ReplaceAll(toml, "EXT", "parquet"), "DIR", dir)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = local.Run(context.Background(), cfg.Pipelines, plan.DefaultRegistry(), nil, nil)
		if !errors.Is(err, files.ErrUnknownColumn) {
			t.Fatalf("err = %v, want files.ErrUnknownColumn", err)
		}
		msg := err.Error()
		for _, w := range []string{`"word"`, path, "ts", "v"} {
			if !strings.Contains(msg, w) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming %s", msg, w)
			}
		}
	})
}

// TestRunDictionaryFieldFromText: a field declared dictionary[string]
// read from CSV and JSON Lines (which hold plain strings) is
// dictionary-encoded by the plan's conformance, not an error.
func TestRunDictionaryFieldFromText(t *testing.T) {
	for _, ext := range []string{"csv", "jsonl"} {
		t.Run(ext, func(t *testing.T) {
			in := map[string]string{"csv": "city,n\nOslo,1\nRome,2\nOslo,3\n",
				"jsonl": `{"city":"Oslo","n":1}` + "\n" + `{"city":"Rome","n":2}` + "\n" + `{"city":"Oslo","n":3}` + "\n"}[ext]
			dir, err := runTOML(t, `
[[pipeline]]
name = "d"
input = { files = ["DIR/in.`+ext+`"], component = "row" }
output = { file = "DIR/out.arrow" }

[[pipeline.component]]
name = "row"
fields = ["city: dictionary[string]", "n: int64"]

[[pipeline.system]]
use = "filter"
options = { component = "row", expression = "n > 0" }
`, map[string]string{"in." + ext: in})
			if err != nil {
				t.Fatal(err)
			}
			src, err := files.Open(filepath.Join(dir, "out.arrow"))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			rec, err := src.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Release()
			city, ok := rec.Column(0).(*array.Dictionary)
			if !ok || rec.NumRows() != 3 {
				t.Fatalf("column %s, %d rows", rec.Column(0).DataType(), rec.NumRows())
			}
			dict := city.Dictionary().(*array.String)
			var got []string
			for i := 0; i < city.Len(); i++ {
				got = append(got, dict.Value(city.GetValueIndex(i)))
			}
			if strings.Join(got, ",") != "Oslo,Rome,Oslo" || dict.Len() != 2 {
				t.Errorf("cities %v (dictionary of %d)", got, dict.Len())
			}
		})
	}
}
