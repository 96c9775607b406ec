package csv_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/csv"
)

// Read a CSV file whose types are inferred from its rows: the count
// column holds integers and then a float, so it is float64; the empty
// cell is null.
func Example() {
	dir, _ := os.MkdirTemp("", "pcs-csv-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "weather.csv")
	os.WriteFile(path, []byte("date,city,rain,windy\n"+
		"2012-01-01,Seattle,0,true\n"+
		"2012-01-02,\"Washington, D.C.\",10.9,false\n"+
		"2012-01-03,Seattle,,false\n"), 0o644)

	src, err := csv.NewSource(path, csv.WithBatchRows(2))
	if err != nil {
		panic(err)
	}
	defer src.Close()
	for _, f := range src.Schema().Fields() {
		fmt.Printf("%s: %s\n", f.Name, f.Type)
	}
	err = transports.Each(context.Background(), src, func(rec arrow.RecordBatch) error {
		fmt.Println(rec.NumRows(), "rows:", rec.Column(1), rec.Column(2))
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// date: date32
	// city: utf8
	// rain: float64
	// windy: bool
	// 2 rows: ["Seattle" "Washington, D.C."] [0 10.9]
	// 1 rows: ["Seattle"] [(null)]
}

// A bad value is reported with the file, the line and the column.
func ExampleParseError() {
	dir, _ := os.MkdirTemp("", "pcs-csv-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "counts.csv")
	os.WriteFile(path, []byte("name,count\na,1\nb,2\nc,3\nd,many\n"), 0o644)

	src, err := csv.NewSource(path, csv.WithInferRows(3))
	if err != nil {
		panic(err)
	}
	defer src.Close()
	_, err = src.Read(context.Background())
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		fmt.Printf("line %d, column %q (index %d), value %q, bad value: %v\n",
			pe.Line, pe.Name, pe.Column, pe.Value, errors.Is(err, csv.ErrBadValue))
	}
	// Output:
	// line 5, column "count" (index 1), value "many", bad value: true
}
