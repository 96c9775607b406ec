package local_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hamba/avro/v2/ocf"

	"github.com/pcs-dev/pcs/local"
)

// TestRunLocalAvro runs the pipeline of TestRunLocal over an Avro object
// container file written by hamba/avro (issue 16 item 6).
func TestRunLocalAvro(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.avro")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := ocf.NewEncoder(`{"type":"record","name":"row","fields":[{"name":"id","type":"long"},{"name":"v","type":"double"}]}`, f)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := enc.Encode(map[string]any{"id": int64(i), "v": float64(i) + 0.5}); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.csv")
	stats, err := local.Run(context.Background(), localConfig(t, []string{filepath.Join(dir, "*.avro")}, out), registry(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 1 || stats[0].Files != 1 || stats[0].RowsIn != 100 || stats[0].RowsOut != 90 {
		t.Fatalf("stats %+v", stats)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "id,v\n10,21\n11,23\n"; string(data[:len(want)]) != want {
		t.Errorf("output starts %q, want %q", data[:min(len(data), 40)], want)
	}
}
