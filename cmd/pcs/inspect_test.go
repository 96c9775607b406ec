package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/arrowfile"
	"github.com/pcs-dev/pcs/transports/parquet"
)

// flightsParquet is the shared 3-million-row flights file, relative to
// this package.
var flightsParquet = filepath.Join("..", "..", "..", "shared", "data", "flights-3m.parquet")

// inspectJSON runs pcs inspect --json path and decodes the report.
func inspectJSON(t *testing.T, path string) inspectReport {
	t.Helper()
	r := mustPCS(t, "inspect", "--json", path)
	if r.stderr != "" {
		t.Errorf("stderr: %q", r.stderr)
	}
	var rep inspectReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, r.stdout)
	}
	return rep
}

func fieldNames(fs []inspectField) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return strings.Join(names, ",")
}

func TestInspectParquet(t *testing.T) {
	recs := makeRecords(t, 1000, 128) // row groups of 400 rows (writeParquet)
	path := writeParquet(t, t.TempDir(), "orders.parquet", recs)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	rep := inspectJSON(t, path)
	if rep.Format != "parquet" || rep.Rows != 1000 || rep.SizeBytes != st.Size() {
		t.Fatalf("format %q, rows %d, size %d; want parquet, 1000, %d", rep.Format, rep.Rows, rep.SizeBytes, st.Size())
	}
	if got := fieldNames(rep.Schema); got != "id,name,price,at,ok" {
		t.Errorf("schema fields %s", got)
	}
	if rep.Schema[3].Type != "timestamp[ms, tz=UTC]" {
		t.Errorf("at: type %q, want timestamp[ms, tz=UTC]", rep.Schema[3].Type)
	}
	if rep.NumRowGroups == nil || *rep.NumRowGroups != 3 || len(rep.RowGroups) != 3 {
		t.Fatalf("row groups: %v, %d listed; want 3", rep.NumRowGroups, len(rep.RowGroups))
	}
	t0 := time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	first := 0
	for i, g := range rep.RowGroups {
		want := []int64{400, 400, 200}[i]
		if g.Rows != want {
			t.Fatalf("row group %d: %d rows, want %d", i, g.Rows, want)
		}
		if g.CompressedBytes <= 0 || g.UncompressedBytes <= 0 {
			t.Errorf("row group %d: sizes %d / %d", i, g.CompressedBytes, g.UncompressedBytes)
		}
		last := first + int(g.Rows) - 1
		nameNulls := int64(0)
		for j := first; j <= last; j++ {
			if j%7 == 3 {
				nameNulls++
			}
		}
		// Every 7th name (i%7 == 3) is null; min and max skip them.
		nameMin, nameMax := first, last
		if nameMin%7 == 3 {
			nameMin++
		}
		if nameMax%7 == 3 {
			nameMax--
		}
		wants := map[string][3]string{
			"id":    {fmt.Sprint(first), fmt.Sprint(last), "0"},
			"name":  {fmt.Sprintf("name-%05d", nameMin), fmt.Sprintf("name-%05d", nameMax), fmt.Sprint(nameNulls)},
			"price": {fmt.Sprint(float64(first) * 1.25), fmt.Sprint(float64(last) * 1.25), "0"},
			"at": {t0.Add(time.Duration(first) * time.Second).Format(time.RFC3339),
				t0.Add(time.Duration(last) * time.Second).Format(time.RFC3339), "0"},
			"ok": {"false", "true", "0"},
		}
		if len(g.Columns) != len(wants) {
			t.Fatalf("row group %d: %d columns", i, len(g.Columns))
		}
		for _, c := range g.Columns {
			w, ok := wants[c.Path]
			if !ok {
				t.Fatalf("row group %d: unexpected column %q", i, c.Path)
			}
			s := c.Stats
			if s == nil || s.Min == nil || s.Max == nil || s.NullCount == nil {
				t.Fatalf("row group %d column %s: statistics missing: %+v", i, c.Path, s)
			}
			if got := [3]string{*s.Min, *s.Max, fmt.Sprint(*s.NullCount)}; got != w {
				t.Errorf("row group %d column %s: min/max/nulls %q, want %q", i, c.Path, got, w)
			}
			if c.Codec == "" || c.CompressedBytes <= 0 || c.UncompressedBytes <= 0 {
				t.Errorf("row group %d column %s: codec %q, sizes %d / %d", i, c.Path, c.Codec, c.CompressedBytes, c.UncompressedBytes)
			}
		}
		first = last + 1
	}

	// The text report says the same.
	r := mustPCS(t, "inspect", path)
	for _, want := range []string{
		"format:     parquet", "rows:       1,000", "row groups: 3",
		"at     timestamp[ms, tz=UTC]",
		"row group 0: 400 rows", "row group 2: 200 rows",
		"2026-11-03T08:00:00Z", "2026-11-03T08:16:39Z", // first and last "at"
		"name-00000", "name-00999",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr: %q", r.stderr)
	}
}

func TestInspectArrow(t *testing.T) {
	recs := makeRecords(t, 1000, 300)
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		format arrowfile.Format
		want   string
	}{
		{"orders.arrow", arrowfile.FormatFile, "arrow file"},
		{"orders.arrows", arrowfile.FormatStream, "arrow stream"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			path := writeArrow(t, dir, tc.name, tc.format, recs)
			rep := inspectJSON(t, path)
			if rep.Format != tc.want || rep.Rows != 1000 || rep.Batches == nil || *rep.Batches != 4 {
				t.Fatalf("format %q, rows %d, batches %v; want %q, 1000, 4", rep.Format, rep.Rows, rep.Batches, tc.want)
			}
			if got := fieldNames(rep.Schema); got != "id,name,price,at,ok" {
				t.Errorf("schema fields %s", got)
			}
			if rep.RowGroups != nil || rep.NumRowGroups != nil {
				t.Errorf("row groups reported for Arrow")
			}
			r := mustPCS(t, "inspect", path)
			for _, want := range []string{"format:     " + tc.want, "rows:       1,000", "batches:    4", "name   utf8", "nullable"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("text report lacks %q:\n%s", want, r.stdout)
				}
			}
		})
	}
}

func TestInspectCSV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cities.csv")
	var b strings.Builder
	b.WriteString("city,population,founded\n")
	for i := 0; i < 2500; i++ {
		fmt.Fprintf(&b, "city-%d,%d,%d-01-15\n", i, 1000+i, 1800+i%200)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := inspectJSON(t, path)
	if rep.Format != "csv" || rep.Rows != 2500 {
		t.Fatalf("format %q, rows %d; want csv, 2500", rep.Format, rep.Rows)
	}
	want := []inspectField{{"city", "utf8", true}, {"population", "int64", true}, {"founded", "date32", true}}
	if fmt.Sprint(rep.Schema) != fmt.Sprint(want) {
		t.Errorf("schema %v, want %v", rep.Schema, want)
	}
	r := mustPCS(t, "inspect", path)
	for _, w := range []string{"format:     csv", "rows:       2,500", "population  int64"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("text report lacks %q:\n%s", w, r.stdout)
		}
	}
}

func TestInspectJSONL(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := 0; i < 1500; i++ {
		fmt.Fprintf(&b, "{\"city\": \"city-%d\", \"population\": %d, \"tags\": [\"a\"]}\n", i, 1000+i)
	}
	// Known by its extension, and by its content under another name.
	for _, name := range []string{"cities.jsonl", "cities.log"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		rep := inspectJSON(t, path)
		if rep.Format != "jsonl" || rep.Rows != 1500 || rep.Batches != nil {
			t.Fatalf("%s: format %q, rows %d, batches %v; want jsonl, 1500, none", name, rep.Format, rep.Rows, rep.Batches)
		}
		want := []inspectField{{"city", "utf8", true}, {"population", "int64", true}, {"tags", "utf8", true}} // arrays read as their JSON text
		if fmt.Sprint(rep.Schema) != fmt.Sprint(want) {
			t.Errorf("%s: schema %v, want %v", name, rep.Schema, want)
		}
	}
}

// TestInspectArrowStreamNamedArrow checks that the format reported is the
// content's: a stream under a file-format name is a stream.
func TestInspectArrowStreamNamedArrow(t *testing.T) {
	path := writeArrow(t, t.TempDir(), "really-a-stream.arrow", arrowfile.FormatStream, makeRecords(t, 10, 5))
	if rep := inspectJSON(t, path); rep.Format != "arrow stream" || rep.Rows != 10 || rep.Batches == nil || *rep.Batches != 2 {
		t.Fatalf("format %q, rows %d, batches %v", rep.Format, rep.Rows, rep.Batches)
	}
}

func TestInspectFlights(t *testing.T) {
	if _, err := os.Stat(flightsParquet); errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s not present", flightsParquet)
	}
	rep := inspectJSON(t, flightsParquet)
	if rep.Rows != 3_000_000 || rep.NumRowGroups == nil || *rep.NumRowGroups != 11 || len(rep.RowGroups) != 11 {
		t.Fatalf("rows %d, row groups %v (%d listed); want 3000000, 11", rep.Rows, rep.NumRowGroups, len(rep.RowGroups))
	}
	if got := fieldNames(rep.Schema); got != "date,delay,distance,origin,destination" {
		t.Errorf("schema fields %s", got)
	}
	var sum int64
	for _, g := range rep.RowGroups {
		sum += g.Rows
		if len(g.Columns) != 5 {
			t.Errorf("row group %d: %d columns", g.Index, len(g.Columns))
		}
		for _, c := range g.Columns {
			if c.Stats == nil || c.Stats.Min == nil {
				t.Errorf("row group %d column %s: no min/max", g.Index, c.Path)
			}
		}
	}
	if sum != 3_000_000 {
		t.Errorf("row groups hold %d rows", sum)
	}
	// Dates render as timestamps, airports as text.
	date, origin := rep.RowGroups[0].Columns[0], rep.RowGroups[0].Columns[3]
	if _, err := time.Parse("2006-01-02T15:04:05.999999999", *date.Stats.Min); err != nil {
		t.Errorf("date min %q is not a timestamp: %v", *date.Stats.Min, err)
	}
	if len(*origin.Stats.Min) != 3 {
		t.Errorf("origin min %q is not an airport code", *origin.Stats.Min)
	}

	r := mustPCS(t, "inspect", flightsParquet)
	for _, w := range []string{"rows:       3,000,000", "row groups: 11", "row group 10:", "destination"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("text report lacks %q:\n%s", w, r.stdout)
		}
	}
}

func TestInspectErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(junk, []byte("hello, world\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badParquet := filepath.Join(dir, "bad.parquet")
	if err := os.WriteFile(badParquet, []byte("PAR1 but nothing else"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no file", []string{"inspect"}, exitUsage, []string{"no input file"}},
		{"two files", []string{"inspect", junk, junk}, exitUsage, []string{"one file"}},
		{"bad flag", []string{"inspect", "--jsn", junk}, exitUsage, []string{"--jsn"}},
		{"missing file", []string{"inspect", filepath.Join(dir, "nope.parquet")}, exitFailure, []string{"nope.parquet", "no such file"}},
		{"directory", []string{"inspect", dir}, exitFailure, []string{"is a directory"}},
		{"unknown format", []string{"inspect", junk}, exitFailure, []string{"notes.txt", "not a known format"}},
		{"corrupt parquet", []string{"inspect", badParquet}, exitFailure, []string{"bad.parquet", "Parquet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pcs(context.Background(), tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d: %v", r.code, tc.code, r)
			}
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
			oneErrorLine(t, r, tc.want...)
		})
	}
}

// BenchmarkInspect compares pcs inspect (footer only) with reading the
// whole flights-3m.parquet file.
func BenchmarkInspect(b *testing.B) {
	if _, err := os.Stat(flightsParquet); errors.Is(err, os.ErrNotExist) {
		b.Skipf("%s not present", flightsParquet)
	}
	ctx := context.Background()
	b.Run("pcs", func(b *testing.B) {
		for b.Loop() {
			rep, err := inspectFile(ctx, flightsParquet)
			if err != nil {
				b.Fatal(err)
			}
			if rep.Rows != 3_000_000 {
				b.Fatalf("rows %d", rep.Rows)
			}
		}
	})
	b.Run("read-all", func(b *testing.B) {
		for b.Loop() {
			src, err := parquet.NewSource(flightsParquet)
			if err != nil {
				b.Fatal(err)
			}
			var rows int64
			err = transports.Each(ctx, src, func(rec arrow.RecordBatch) error {
				rows += rec.NumRows()
				return nil
			})
			src.Close()
			if err != nil {
				b.Fatal(err)
			}
			if rows != 3_000_000 {
				b.Fatalf("rows %d", rows)
			}
		}
	})
}
