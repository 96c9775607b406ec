package main

import (
	"context"

	"fmt"
	"github.com/apache/arrow-go/v18/arrow/array"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunCommand(t *testing.T) {
	td, err := filepath.Abs("../../examples/flights/testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out.parquet")
	config := filepath.Join(dir, "pipeline.toml")
	src := fmt.Sprintf(`[[pipeline]]
name = "flights"
input = { files = [%q], component = "flight" }
output = { file = %q, components = ["route"] }
component = [
  { name = "flight", fields = ["delay: int64", "origin: large_string", "destination: large_string"] },
  { name = "route", fields = ["origin_state: string", "dest_state: string", "route: string", "cat: string", "delayed: bool"] },
]
resource = [{ use = "table", options = { name = "airports", path = %q, keys = ["iata"] } }]
system = [{ use = "filter", options = { component = "flight", expression = "delay > 60" } },
          { use = "lookup", options = { component = "flight", into = "route", table = "airports", keys = ["origin"], values = ["origin_state"], columns = ["state"] } },
          { use = "derive", options = { component = "flight", into = "route", field = "delayed", expression = "delay > 15" } }]
`, filepath.Join(td, "flights-50k.parquet"), out, filepath.Join(td, "airports.csv"))
	if err := os.WriteFile(config, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustPCS(t, "run", "--config", config)
	if !strings.Contains(r.stdout, "flights: 1 file(s), 50,000 rows in, ") {
		t.Fatalf("summary: %v", r)
	}
	var rows, delayed int
	for _, rec := range readFile(t, out) {
		if rec.Schema().Field(4).Name != "delayed" {
			t.Fatalf("output schema %s", rec.Schema())
		}
		d := rec.Column(4).(*array.Boolean)
		for i := 0; i < d.Len(); i++ {
			rows++
			if d.IsValid(i) && d.Value(i) {
				delayed++
			}
		}
		rec.Release()
	}
	// delay > 60 was filtered first: every kept flight is delayed (> 15).
	if rows == 0 || rows >= 50000 || delayed != rows {
		t.Fatalf("%d rows out, %d delayed", rows, delayed)
	}

	if r := pcs(context.Background(), "run"); r.code != 2 || !strings.Contains(r.stderr, "--config") {
		t.Errorf("no config: %v", r)
	}
	if r := pcs(context.Background(), "run", "--config", filepath.Join(dir, "none.toml")); r.code != 1 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("missing config: %v", r)
	}
}
