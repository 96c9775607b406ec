package csv_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/csv"
)

func TestMaxLineBytes(t *testing.T) {
	long := strings.Repeat("x", 200)
	// Records of 60-odd bytes: many of them, more than the limit in all.
	var many strings.Builder
	many.WriteString("a,b\n")
	for i := range 50 {
		many.WriteString("1," + strings.Repeat("y", 50) + "\n")
		_ = i
	}
	// A quoted field whose lines are short but whose record is long.
	quotedLong := "a,b\n1,2\n3,\"" + strings.Repeat("short\n", 30) + "\"\n"
	// Quoted fields with line breaks, "" escapes and delimiters inside,
	// each record short.
	quotedShort := "a,b\n" + strings.Repeat("1,\"x \"\"q\"\", y\nz\"\n", 30)

	for _, tc := range []struct {
		name     string
		content  string
		opts     []csv.SourceOption
		atOpen   bool // fails in NewSource (header or inference)
		wantLine int  // 0: no error
		wantRows int64
	}{
		{name: "under the limit", content: many.String(), wantRows: 50},
		{name: "long record in the data", content: "a,b\n1,2\n3,4\n5," + long + "\n6,7\n", opts: []csv.SourceOption{csv.WithInferRows(1)}, wantLine: 4},
		{name: "long record while inferring", content: "a,b\n1,2\n5," + long + "\n", atOpen: true, wantLine: 3},
		{name: "long header", content: long + ",b\n1,2\n", atOpen: true, wantLine: 1},
		{name: "long quoted record of short lines", content: quotedLong, opts: []csv.SourceOption{csv.WithInferRows(1)}, wantLine: 3},
		{name: "short quoted records", content: quotedShort, wantRows: 30},
		{name: "multi-byte delimiter", content: strings.ReplaceAll(many.String(), ",", "§"), opts: []csv.SourceOption{csv.WithDelimiter('§')}, wantRows: 50},
		{name: "multi-byte delimiter, quoted", content: strings.ReplaceAll(quotedShort, ",", "§"), opts: []csv.SourceOption{csv.WithDelimiter('§')}, wantRows: 30},
		{name: "lazy quotes", content: "a,b\n" + strings.Repeat("1,x\"y\"z\n", 40), opts: []csv.SourceOption{csv.WithLazyQuotes(true)}, wantRows: 40},
		{name: "after a byte order mark", content: "\xEF\xBB\xBFa,b\n1,2\n3," + long + "\n", opts: []csv.SourceOption{csv.WithInferRows(1)}, wantLine: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "data.csv", tc.content)
			opts := append([]csv.SourceOption{csv.WithMaxLineBytes(100)}, tc.opts...)
			if tc.wantLine == 0 {
				_, tbl := open(t, path, opts...)
				if tbl.NumRows() != tc.wantRows {
					t.Fatalf("%d rows, want %d", tbl.NumRows(), tc.wantRows)
				}
				return
			}
			var err error
			if tc.atOpen {
				src, oerr := csv.NewSource(path, opts...)
				if oerr == nil {
					src.Close()
					t.Fatal("NewSource succeeded")
				}
				err = oerr
			} else {
				err = readErr(t, path, opts...)
			}
			var pe *transports.ParseError
			if !errors.As(err, &pe) || !errors.Is(err, csv.ErrLineTooLong) {
				t.Fatalf("error %v (%T), want a *ParseError wrapping ErrLineTooLong", err, err)
			}
			if pe.Line != tc.wantLine || pe.Path != path {
				t.Errorf("error at %s line %d, want %s line %d: %v", pe.Path, pe.Line, path, tc.wantLine, err)
			}
			if !strings.Contains(err.Error(), "longer than 100 bytes") || !strings.HasPrefix(err.Error(), "csv: "+path) {
				t.Errorf("message %q does not name the file and the limit", err)
			}
		})
	}
	if _, err := csv.NewSource(writeFile(t, "x.csv", "a\n"), csv.WithMaxLineBytes(0)); !errors.Is(err, csv.ErrInvalidOption) {
		t.Errorf("WithMaxLineBytes(0): %v", err)
	}
}

// TestLongLineBoundedMemory reads a file with one 64 MiB line under a
// 1 MiB limit: the source fails having held about the limit, not the
// line (encoding/csv alone holds the whole line, several times over).
func TestLongLineBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 64 MiB file")
	}
	path := writeFile(t, "big.csv", "a,b\n1,2\n3,"+strings.Repeat("z", 64<<20)+"\n")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := readErr(t, path, csv.WithMaxLineBytes(1<<20), csv.WithInferRows(1))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, csv.ErrLineTooLong) {
		t.Fatalf("error %v, want ErrLineTooLong", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("allocated %d MiB reading a 64 MiB line under a 1 MiB limit", alloc>>20)
	}
}
