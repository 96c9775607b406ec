// Package flightsys is the flights pipeline of the PCS demo written as Go
// systems registered by name, the way a program adds its own systems to
// node.Main (examples/flights/cmd/flights-node): the demo itself (examples/flights/node.toml) does the same
// work with built-in systems only, and BenchmarkEndToEnd compares the
// two.
//
// Input: partitions of the US flights data set (flights-3m.parquet): the
// component "flight" with date timestamp[us], delay int64 (minutes),
// distance int64 (miles), origin and destination large_utf8 (IATA codes),
// all nullable. Output: the component "route" with origin_city,
// origin_state, dest_city, dest_state (utf8, null when the airport is not
// in the table; dictionary-encoded: int32 indices into the airports
// table, which is the dictionary), delayed (bool, delay > 15) and route
// ("ORIGIN-DEST").
//
// Plan: keep (deletes rows without a delay or with a distance <= 0) is
// alone in stage 0, because it writes the alive bitmap; airports and
// derive have disjoint writes and share stage 1.
package flightsys

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
	"github.com/pcs-dev/pcs/plan"
)

// DelayedMinutes is the threshold of "delayed": delay > 15 minutes (the
// US Bureau of Transportation Statistics' definition).
const DelayedMinutes = 15

// FlightSchema is the input component's schema, as flights-3m.parquet
// stores it.
var FlightSchema = arrow.NewSchema([]arrow.Field{
	{Name: "date", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	{Name: "delay", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "distance", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "origin", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "destination", Type: arrow.BinaryTypes.LargeString, Nullable: true},
}, nil)

// Route is the derived component: one row per flight.
type Route struct {
	OriginCity  *string `arrow:"origin_city,dict"`
	OriginState *string `arrow:"origin_state,dict"`
	DestCity    *string `arrow:"dest_city,dict"`
	DestState   *string `arrow:"dest_state,dict"`
	Delayed     *bool   `arrow:"delayed"`
	Route       *string `arrow:"route"`
}

// Components and fields of the pipeline.
var (
	Flight      = pcs.NewDynamicComponent("flight", FlightSchema)
	Routes      = pcs.MustComponent[Route]("route")
	delay       = pcs.MustField[*array.Int64](Flight, "delay")
	distance    = pcs.MustField[*array.Int64](Flight, "distance")
	origin      = pcs.MustField[*array.LargeString](Flight, "origin")
	destination = pcs.MustField[*array.LargeString](Flight, "destination")
	originCity  = pcs.MustField[*array.Dictionary](Routes, "origin_city")
	originState = pcs.MustField[*array.Dictionary](Routes, "origin_state")
	destCity    = pcs.MustField[*array.Dictionary](Routes, "dest_city")
	destState   = pcs.MustField[*array.Dictionary](Routes, "dest_state")
	delayed     = pcs.MustField[*array.Boolean](Routes, "delayed")
	route       = pcs.MustField[*array.String](Routes, "route")
)

// Airports is the lookup table the airports system reads as a resource:
// the city and state of each airport as Arrow string columns, and the
// row of each IATA code. Loaded once and read-only afterwards; its arrays
// live as long as the process (Release frees them in tests).
type Airports struct {
	Row         map[string]int32 // IATA code -> row of City and State
	City, State *array.String
}

// Lookup returns the city and state of code.
func (a Airports) Lookup(code string) (city, state string, ok bool) {
	i, ok := a.Row[code]
	if !ok {
		return "", "", false
	}
	return a.City.Value(int(i)), a.State.Value(int(i)), true
}

// Release frees the arrays.
func (a Airports) Release() {
	a.City.Release()
	a.State.Release()
}

// LoadAirports reads airports.csv (header iata,name,city,state,...) into
// arrays allocated from mem. Errors name the file and line.
func LoadAirports(path string, mem memory.Allocator) (Airports, error) {
	f, err := os.Open(path)
	if err != nil {
		return Airports{}, fmt.Errorf("flightsys: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return Airports{}, fmt.Errorf("flightsys: %s: header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, need := range []string{"iata", "city", "state"} {
		if _, ok := col[need]; !ok {
			return Airports{}, fmt.Errorf("flightsys: %s: line 1: no %q column in %v", path, need, head)
		}
	}
	cities, states := array.NewStringBuilder(mem), array.NewStringBuilder(mem)
	defer cities.Release()
	defer states.Release()
	rows := map[string]int32{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Airports{}, fmt.Errorf("flightsys: %s: %w", path, err)
		}
		rows[rec[col["iata"]]] = int32(cities.Len())
		cities.Append(rec[col["city"]])
		states.Append(rec[col["state"]])
	}
	return Airports{Row: rows, City: cities.NewStringArray(), State: states.NewStringArray()}, nil
}

// Keep deletes rows whose delay is null or whose distance is null or not
// positive.
func Keep() pcs.System {
	return pcs.SystemFunc(pcs.Meta("keep").Read(delay, distance).Write(pcs.Rows), func(ctx context.Context, ds *pcs.Dataset) error {
		d, err := delay.Get(ds)
		if err != nil {
			return err
		}
		km, err := distance.Get(ds)
		if err != nil {
			return err
		}
		dist := km.Int64Values()
		for i := range dist {
			if d.IsNull(i) || km.IsNull(i) || dist[i] <= 0 {
				if err := ds.Delete(i); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// LookupAirports writes the city and state of origin and destination
// from the Airports resource (null when unknown) as dictionary columns:
// one map lookup per row finds the airport, and each partition's
// dictionary holds only the airports it uses (a few hundred, not the
// table's 3,376), so no string is copied per row and partitions stay
// small.
func LookupAirports() pcs.System {
	meta := pcs.Meta("airports").Read(origin, destination, pcs.Resource[Airports]()).
		Write(originCity, originState, destCity, destState)
	return pcs.SystemFunc(meta, func(ctx context.Context, ds *pcs.Dataset) error {
		table, err := pcs.GetResource[Airports](ds)
		if err != nil {
			return err
		}
		mem := ds.Allocator()
		for _, side := range []struct {
			code        pcs.FieldRef[*array.LargeString]
			city, state pcs.FieldRef[*array.Dictionary]
		}{{origin, originCity, originState}, {destination, destCity, destState}} {
			codes, err := side.code.Get(ds)
			if err != nil {
				return err
			}
			// Dense dictionary ids in order of first use: used[k] is the
			// table row of id k, ids[row] is row's id + 1 (0: unused).
			ids := make([]int32, table.City.Len())
			var used []int32
			ib := array.NewInt32Builder(mem)
			ib.Reserve(codes.Len())
			for i := 0; i < codes.Len(); i++ {
				row, ok := table.Row[codes.Value(i)]
				if !ok || codes.IsNull(i) {
					ib.AppendNull()
					continue
				}
				if ids[row] == 0 {
					used = append(used, row)
					ids[row] = int32(len(used))
				}
				ib.UnsafeAppend(ids[row] - 1)
			}
			indices := ib.NewInt32Array()
			ib.Release()
			err = errors.Join(
				setDictionary(ds, side.city, indices, table.City, used),
				setDictionary(ds, side.state, indices, table.State, used))
			indices.Release()
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// setDictionary sets f to indices over a dictionary of values[used[k]].
func setDictionary(ds *pcs.Dataset, f pcs.FieldRef[*array.Dictionary], indices arrow.Array, values *array.String, used []int32) error {
	vb := array.NewStringBuilder(ds.Allocator())
	defer vb.Release()
	vb.Reserve(len(used))
	for _, row := range used {
		vb.Append(values.Value(int(row)))
	}
	dict := vb.NewArray()
	defer dict.Release()
	arr := array.NewDictionaryArray(f.Type(), indices, dict)
	defer arr.Release()
	return f.Set(ds, arr)
}

// Derive writes delayed = delay > 15 and route = "ORIGIN-DEST".
func Derive() pcs.System {
	meta := pcs.Meta("derive").Read(delay, origin, destination).Write(delayed, route)
	return pcs.SystemFunc(meta, func(ctx context.Context, ds *pcs.Dataset) error {
		d, err := delay.Get(ds)
		if err != nil {
			return err
		}
		o, err := origin.Get(ds)
		if err != nil {
			return err
		}
		dst, err := destination.Get(ds)
		if err != nil {
			return err
		}
		db, rb := array.NewBooleanBuilder(ds.Allocator()), array.NewStringBuilder(ds.Allocator())
		db.Reserve(d.Len())
		rb.Reserve(d.Len())
		rb.ReserveData(7 * d.Len())
		buf := make([]byte, 0, 16)
		for i := 0; i < d.Len(); i++ {
			if d.IsNull(i) {
				db.AppendNull()
			} else {
				db.UnsafeAppend(d.Value(i) > DelayedMinutes)
			}
			if o.IsNull(i) || dst.IsNull(i) {
				rb.AppendNull()
				continue
			}
			buf = append(append(append(buf[:0], o.Value(i)...), '-'), dst.Value(i)...)
			rb.BinaryBuilder.Append(buf)
		}
		return errors.Join(setBuilt(ds, delayed, db), setBuilt(ds, route, rb))
	})
}

// setBuilt sets field f from builder b's array and releases both.
func setBuilt[A arrow.Array](ds *pcs.Dataset, f pcs.FieldRef[A], b array.Builder) error {
	defer b.Release()
	arr := b.NewArray()
	defer arr.Release()
	return f.Set(ds, arr.(A))
}

// Register adds the components (flight, route), the systems
// (flights.keep, flights.airports, flights.derive) and the resource
// flights.airports (options: path = "airports.csv") to reg.
func Register(reg *plan.Registry) {
	reg.Component(Flight)
	reg.Component(Routes)
	reg.System("flights.keep", func(plan.Options) (pcs.System, error) { return Keep(), nil })
	reg.System("flights.airports", func(plan.Options) (pcs.System, error) { return LookupAirports(), nil })
	reg.System("flights.derive", func(plan.Options) (pcs.System, error) { return Derive(), nil })
	reg.Resource("flights.airports", func(ctx context.Context, opts plan.Options) (func(*pcs.Dataset) error, error) {
		var o struct {
			Path string `toml:"path"`
		}
		if err := opts.Decode(&o); err != nil {
			return nil, err
		}
		table, err := LoadAirports(o.Path, memory.DefaultAllocator)
		if err != nil {
			return nil, err
		}
		return func(ds *pcs.Dataset) error { return pcs.InsertResource(ds, table) }, nil
	})
}
