package csv_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/csv"
)

// FuzzSource reads arbitrary bytes as a CSV file with inference: it may
// fail, but must not panic or leak, and must end with io.EOF or an
// error.
func FuzzSource(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n",
		"a,b\n1,x\n2.5,\n",
		"t\n2015/01/01 01:00:00\n2015/13/01 01:00:00\n",
		"t\n2012-01-01T10:00:00Z\n2012-01-01T10:00:00\n",
		"\xEF\xBB\xBFa\n\"q\"\"\n",
		"a,b\n1\n",
		"\"unterminated\n",
		"d\nJan 2 2006\nFeb 30 2006\n",
	} {
		f.Add([]byte(s), 2)
	}
	f.Fuzz(func(t *testing.T, data []byte, inferRows int) {
		if inferRows <= 0 || inferRows > 100 {
			inferRows = -1
		}
		path := filepath.Join(t.TempDir(), "f.csv")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		src, err := csv.NewSource(path, csv.WithAllocator(mem), csv.WithInferRows(inferRows), csv.WithBatchRows(3))
		if err != nil {
			return
		}
		defer src.Close()
		for i := 0; i < 1000; i++ {
			rec, err := src.Read(context.Background())
			if err != nil {
				return
			}
			if !rec.Schema().Equal(src.Schema()) {
				t.Fatalf("batch schema %s, source schema %s", rec.Schema(), src.Schema())
			}
			rec.Release()
		}
		t.Fatal("no end after 1000 Reads")
	})
}
