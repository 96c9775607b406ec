package flightsys_test

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/examples/flights/flightsys"
	"github.com/pcs-dev/pcs/pcs"
)

func TestPipeline(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	airports, err := flightsys.LoadAirports("../testdata/airports.csv", mem)
	if err != nil {
		t.Fatal(err)
	}
	defer airports.Release()
	if city, state, ok := airports.Lookup("ORD"); city != "Chicago" || state != "IL" || !ok {
		t.Fatalf("ORD = %s, %s", city, state)
	}
	p, err := pcs.NewPipeline("flights").Components(flightsys.Flight, flightsys.Routes).
		Add(flightsys.Keep(), flightsys.LookupAirports(), flightsys.Derive()).Build()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Stages(); len(got) != 2 || len(got[0]) != 1 || got[0][0] != "keep" || len(got[1]) != 2 {
		t.Errorf("plan %v, want [[keep] [airports derive]]", got)
	}

	b := array.NewRecordBuilder(mem, flightsys.FlightSchema)
	defer b.Release()
	type in struct {
		delay, dist int64
		delayNull   bool
		o, d        string
	}
	rows := []in{
		{delay: 30, dist: 700, o: "ORD", d: "LAX"},       // kept, delayed
		{delay: 15, dist: 300, o: "LAX", d: "ORD"},       // kept, not delayed (15 is not > 15)
		{delayNull: true, dist: 300, o: "ORD", d: "LAX"}, // dropped: no delay
		{delay: 50, dist: 0, o: "ORD", d: "LAX"},         // dropped: distance 0
		{delay: 16, dist: 100, o: "ZZZ", d: "ORD"},       // kept, unknown origin
	}
	for _, r := range rows {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(0))
		if r.delayNull {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Int64Builder).Append(r.delay)
		}
		b.Field(2).(*array.Int64Builder).Append(r.dist)
		b.Field(3).(*array.LargeStringBuilder).Append(r.o)
		b.Field(4).(*array.LargeStringBuilder).Append(r.d)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	if err := ds.Register(flightsys.Flight, flightsys.Routes); err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Append(map[string]arrow.RecordBatch{"flight": rec}); err != nil {
		t.Fatal(err)
	}
	if err := pcs.InsertResource(ds, airports); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	if err := ds.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	batch, err := ds.Batch("route")
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Release()
	got, err := flightsys.Routes.Rows(batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d rows kept, want 3", len(got))
	}
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	want := []struct {
		city, state, dcity, route string
		delayed                   bool
	}{
		{"Chicago", "IL", "Los Angeles", "ORD-LAX", true},
		{"Los Angeles", "CA", "Chicago", "LAX-ORD", false},
		{"<nil>", "<nil>", "Chicago", "ZZZ-ORD", true},
	}
	for i, w := range want {
		g := got[i]
		if str(g.OriginCity) != w.city || str(g.OriginState) != w.state || str(g.DestCity) != w.dcity || str(g.Route) != w.route || g.Delayed == nil || *g.Delayed != w.delayed {
			t.Errorf("row %d: %s %s %s %s %v, want %+v", i, str(g.OriginCity), str(g.OriginState), str(g.DestCity), str(g.Route), g.Delayed, w)
		}
	}
}
