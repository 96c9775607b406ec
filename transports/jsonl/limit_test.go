package jsonl_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/jsonl"
)

func TestMaxLineBytes(t *testing.T) {
	row := `{"a":1,"b":"` + strings.Repeat("y", 60) + `"}`
	long := `{"a":3,"b":"` + strings.Repeat("x", 200) + `"}`
	for _, tc := range []struct {
		name     string
		content  string
		opts     []jsonl.SourceOption
		atOpen   bool
		wantLine int
		wantRows int64
	}{
		{name: "under the limit", content: strings.Repeat(row+"\n", 50), wantRows: 50},
		{name: "under the limit, CRLF", content: strings.Repeat(row+"\r\n", 50), wantRows: 50},
		{name: "exactly the limit", content: `{"a":"` + strings.Repeat("q", 100-len(`{"a":""}`)) + `"}` + "\n", wantRows: 1},
		{name: "long line in the data", content: row + "\n\n" + row + "\n" + long + "\n" + row + "\n", opts: []jsonl.SourceOption{jsonl.WithInferRows(1)}, wantLine: 4},
		{name: "long last line without a break", content: row + "\n" + long, opts: []jsonl.SourceOption{jsonl.WithInferRows(1)}, wantLine: 2},
		{name: "long line while inferring", content: row + "\n" + long + "\n", atOpen: true, wantLine: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]jsonl.SourceOption{jsonl.WithMaxLineBytes(100)}, tc.opts...)
			path := writeFile(t, tc.content)
			sc, rec, _, err := readAll(t, path, opts...)
			if tc.wantLine == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if rec.NumRows() != tc.wantRows {
					t.Fatalf("%d rows, want %d", rec.NumRows(), tc.wantRows)
				}
				return
			}
			if (sc == nil) != tc.atOpen {
				t.Errorf("failed at open: %v, want %v", sc == nil, tc.atOpen)
			}
			var pe *transports.ParseError
			if !errors.As(err, &pe) || !errors.Is(err, jsonl.ErrLineTooLong) {
				t.Fatalf("error %v (%T), want a *ParseError wrapping ErrLineTooLong", err, err)
			}
			if pe.Line != tc.wantLine || pe.Path != path {
				t.Errorf("error at %s line %d, want %s line %d: %v", pe.Path, pe.Line, path, tc.wantLine, err)
			}
			if !strings.HasPrefix(err.Error(), "jsonl: "+path+": line") || !strings.Contains(err.Error(), "longer than 100 bytes") {
				t.Errorf("message %q does not name the file, the line and the limit", err)
			}
		})
	}
	if _, _, _, err := readAll(t, writeFile(t, "{}\n"), jsonl.WithMaxLineBytes(-1)); !errors.Is(err, jsonl.ErrInvalidOption) {
		t.Errorf("WithMaxLineBytes(-1): %v", err)
	}
}

// TestLongLineBoundedMemory reads a file with one 64 MiB line under a
// 1 MiB limit: the source fails having held about the limit.
func TestLongLineBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 64 MiB file")
	}
	path := writeFile(t, `{"a":1}`+"\n"+`{"a":"`+strings.Repeat("z", 64<<20)+`"}`+"\n")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, _, err := readAll(t, path, jsonl.WithMaxLineBytes(1<<20), jsonl.WithInferRows(1))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, jsonl.ErrLineTooLong) {
		t.Fatalf("error %v, want ErrLineTooLong", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("allocated %d MiB reading a 64 MiB line under a 1 MiB limit", alloc>>20)
	}
}
