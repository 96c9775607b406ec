package plan_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pcs-dev/pcs/local"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/memory"
	"github.com/pcs-dev/pcs/transports/parquet"
)

// A pipeline from TOML alone: declared components, a table resource from
// CSV, lookup into another component, derive, dedupe across partitions,
// cast into a new component, partitioned Parquet output.
const tomlOnly = `
[[pipeline]]
name = "orders"
input = { files = ["DIR/orders-*.csv"], component = "order" }
output = { file = "DIR/out/orders.parquet", components = ["out", "fx"], partition_by = ["region"], roll_rows = 2 }

[[pipeline.component]]
name = "order"
fields = ["id: int64 not null", "ccy: string", "amount: float64"]

[[pipeline.component]]
name = "fx"
fields = ["region: string", "rate: float64", "eur: float64"]

[[pipeline.resource]]
use = "table"
options = { name = "rates", path = "DIR/rates.csv", keys = ["ccy"] }

[[pipeline.system]]
use = "dedupe"
options = { component = "order", keys = ["id"], across = true }

[[pipeline.system]]
use = "lookup"
options = { component = "order", into = "fx", table = "rates", keys = ["ccy"], values = ["region", "rate"] }

[[pipeline.system]]
use = "derive"
options = { component = "order", into = "fx", field = "eur", expression = "amount * 2" }

[[pipeline.system]]
use = "project"
options = { name = "pick", component = "order", into = "picked", fields = ["id", "amount"] }

[[pipeline.system]]
use = "cast"
options = { component = "picked", into = "cents", fields = { amount = "int64" } }

[[pipeline.system]]
use = "rename"
options = { component = "cents", into = "out0", fields = { amount = "amount_int" } }

[[pipeline.system]]
use = "project"
options = { name = "final", component = "out0", into = "out", fields = ["id", "amount_int"] }
`

func TestTOMLOnlyPipeline(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rates.csv", "ccy,region,rate\nEUR,eu,1.0\nUSD,us,0.9\n")
	write("orders-1.csv", "id,ccy,amount\n1,EUR,10\n2,USD,20\n1,EUR,10\n3,JPY,30\n")
	write("orders-2.csv", "id,ccy,amount\n2,USD,20\n4,USD,40\n5,EUR,50\n")
	cfg, err := plan.ParseFile("test.toml", []byte(strings.ReplaceAll(tomlOnly, "DIR", dir)))
	if err != nil {
		t.Fatal(err)
	}
	reg := plan.DefaultRegistry()
	stats, err := local.Run(context.Background(), cfg.Pipelines, reg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Rows 1, 2, 3, 4, 5 once each (dedupe across files); JPY has no
	// rate (left join: null region, the default partition).
	if stats[0].RowsIn != 7 || stats[0].RowsOut != 5 {
		t.Fatalf("stats %+v", stats[0])
	}
	files, err := filepath.Glob(filepath.Join(dir, "out", "*", "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		src, err := parquet.NewSource(f)
		if err != nil {
			t.Fatal(err)
		}
		sink := memory.NewSink(nil)
		if _, err := transports.Copy(context.Background(), sink, src, nil); err != nil {
			t.Fatal(err)
		}
		src.Close()
		rel, _ := filepath.Rel(filepath.Join(dir, "out"), f)
		for _, rec := range sink.Batches() {
			if got, want := rec.Schema().String(), "schema:\n  fields: 4\n    - id: type=int64\n    - amount_int: type=int64, nullable\n    - rate: type=float64, nullable\n    - eur: type=float64, nullable"; got != want {
				t.Errorf("%s: schema %s", rel, got)
			}
			for i := 0; i < int(rec.NumRows()); i++ {
				got = append(got, filepath.Dir(rel)+" "+valueString(rec.Column(0), i)+" "+valueString(rec.Column(1), i)+" "+valueString(rec.Column(3), i))
			}
			rec.Release()
		}
		sink.Release()
	}
	sort.Strings(got)
	want := []string{
		"region=__HIVE_DEFAULT_PARTITION__ 3 30 60",
		"region=eu 1 10 20",
		"region=eu 5 50 100",
		"region=us 2 20 40",
		"region=us 4 40 80",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func valueString(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "null"
	}
	return a.ValueStr(i)
}

func TestBuiltinErrors(t *testing.T) {
	reg := plan.DefaultRegistry()
	base := strings.Replace(tomlOnly, "DIR", t.TempDir(), -1)
	for _, tc := range []struct{ name, from, to, want string }{
		{"bad type", `"amount: float64"]`, `"amount: float65"]`, `unknown type "float65"`},
		{"unknown component", `component = "picked", into = "cents"`, `component = "nope", into = "cents"`, `component "nope"`},
		{"defined twice", `into = "out0"`, `into = "picked"`, `component "picked" defined twice`},
		{"cast type", `amount = "int64"`, `amount = "int"`, `unknown type "int"`},
		{"no table name", `table = "rates", `, ``, `table is empty`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(base, tc.from, tc.to, 1)
			if src == base {
				t.Fatalf("%q not in the config", tc.from)
			}
			cfg, err := plan.ParseFile("test.toml", []byte(src))
			if err == nil {
				_, err = local.Run(context.Background(), cfg.Pipelines, reg, nil, nil)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if !errors.Is(err, plan.ErrConfig) && !errors.Is(err, plan.ErrUnknownName) {
				t.Errorf("err = %v, want ErrConfig or ErrUnknownName", err)
			}
		})
	}
}

func TestParseType(t *testing.T) {
	for in, want := range map[string]string{
		"int64": "int64", "Float64": "float64", "large_string": "large_utf8", "bool": "bool",
		"timestamp[us]": "timestamp[us]", "timestamp[ms, UTC]": "timestamp[ms, tz=UTC]",
		"timestamp[ns, Europe/Paris]": "timestamp[ns, tz=Europe/Paris]", "duration[s]": "duration[s]",
		"dictionary[string]": "dictionary<values=utf8, indices=int32, ordered=false>", "date32": "date32",
	} {
		dt, err := plan.ParseType(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if dt.String() != want {
			t.Errorf("%s = %s, want %s", in, dt, want)
		}
	}
	for _, in := range []string{"int", "timestamp[xs]", "timestamp", "dictionary[nope]", ""} {
		if _, err := plan.ParseType(in); !errors.Is(err, plan.ErrConfig) {
			t.Errorf("%q: err = %v, want ErrConfig", in, err)
		}
	}
}
