// Quickstart: a component, two systems (a one-line rule with pcs.Map1 and
// a SystemFunc), a pipeline, one run.
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// Reading is one sensor reading; each tagged field is an Arrow column.
type Reading struct {
	Sensor  string  `arrow:"sensor"`
	Celsius float64 `arrow:"celsius"`
	Hot     bool    `arrow:"hot"`
}

// Hottest is a resource: a typed singleton the report system writes.
type Hottest struct {
	Sensor  string
	Celsius float64
}

func main() {
	readings := pcs.MustComponent[Reading]("reading")
	celsius := pcs.MustField[*array.Float64](readings, "celsius")
	hot := pcs.MustField[*array.Boolean](readings, "hot")
	sensor := pcs.MustField[*array.String](readings, "sensor")

	// flag is the one-line rule hot = celsius > 30: Map1 declares the read
	// and the write and builds the column. report, a SystemFunc, reads
	// both columns and writes the Hottest resource.
	flag := pcs.Map1("flag", celsius, hot, func(c float64) bool { return c > 30 })
	report := pcs.SystemFunc(pcs.Meta("report").Read(celsius, sensor).Write(pcs.Resource[Hottest]()),
		func(ctx context.Context, ds *pcs.Dataset) error {
			c, err := celsius.Get(ds)
			if err != nil {
				return err
			}
			s, err := sensor.Get(ds)
			if err != nil {
				return err
			}
			best := Hottest{Celsius: -273.15}
			for i, v := range c.Float64Values() {
				if v > best.Celsius {
					best = Hottest{Sensor: s.Value(i), Celsius: v}
				}
			}
			return pcs.InsertResource(ds, best)
		})

	p, err := pcs.NewPipeline("sensors").Components(readings).Add(flag, report).Build()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(p) // the plan: flag and report share stage 0 (no conflict)

	ds := pcs.NewDataset(memory.DefaultAllocator)
	defer ds.Release()
	if err := ds.Register(readings); err != nil {
		log.Fatal(err)
	}
	if _, err := pcs.AppendRows(ds, readings, []Reading{
		{Sensor: "roof", Celsius: 31.5}, {Sensor: "cellar", Celsius: 12}, {Sensor: "attic", Celsius: 35.25},
	}); err != nil {
		log.Fatal(err)
	}
	if _, err := p.Run(context.Background(), ds); err != nil {
		log.Fatal(err)
	}
	batch, err := ds.Batch("reading")
	if err != nil {
		log.Fatal(err)
	}
	defer batch.Release()
	rows, err := readings.Rows(batch)
	if err != nil {
		log.Fatal(err)
	}
	h, err := pcs.GetResource[Hottest](ds)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v\nhottest: %s at %.2f °C\n", rows, h.Sensor, h.Celsius)
}
