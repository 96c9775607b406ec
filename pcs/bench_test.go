package pcs_test

// Benchmarks of issue 2. `make bench` runs them and prints each group's
// variants side by side with the ratio to the pcs variant.

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/pcs"
)

// txn is the 5-column row of the IPC benchmarks.
type txn struct {
	ID       int64   `arrow:"id"`
	Amount   float64 `arrow:"amount"`
	Currency string  `arrow:"currency"`
	Valid    bool    `arrow:"valid"`
	Account  int64   `arrow:"account"`
}

var txns = pcs.MustComponent[txn]("txn")

func makeTxns(n int) []txn {
	cur := []string{"USD", "EUR", "GBP", "JPY"}
	rows := make([]txn, n)
	for i := range rows {
		rows[i] = txn{ID: int64(i), Amount: float64(i%1000) - 100.5, Currency: cur[i%4], Valid: i%3 != 0, Account: int64(i * 7919 % 100003)}
	}
	return rows
}

func txnDataset(b *testing.B, rows []txn) *pcs.Dataset {
	ds := pcs.NewDataset(memory.NewGoAllocator())
	if err := ds.Register(txns); err != nil {
		b.Fatal(err)
	}
	if _, err := pcs.AppendRows(ds, txns, rows); err != nil {
		b.Fatal(err)
	}
	return ds
}

// BenchmarkIPCEncode: a 1M x 5 dataset to bytes: pcs (Arrow IPC file) vs
// encoding/gob and encoding/json of the same []struct.
func BenchmarkIPCEncode(b *testing.B) {
	const n = 1_000_000
	rows := makeTxns(n)
	ds := txnDataset(b, rows)
	defer ds.Release()
	var buf bytes.Buffer
	b.Run("pcs", func(b *testing.B) {
		for b.Loop() {
			buf.Reset()
			if err := ds.WriteIPC(&buf); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(buf.Len()), "bytes")
	})
	b.Run("gob", func(b *testing.B) {
		for b.Loop() {
			buf.Reset()
			if err := gob.NewEncoder(&buf).Encode(rows); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(buf.Len()), "bytes")
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			buf.Reset()
			if err := json.NewEncoder(&buf).Encode(rows); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(buf.Len()), "bytes")
	})
}

// BenchmarkIPCDecode: bytes back to a usable dataset / []struct. The pcs
// variants at 100k and 1M rows show decode time independent of rows (zero
// copy).
func BenchmarkIPCDecode(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		rows := makeTxns(n)
		ds := txnDataset(b, rows)
		var buf bytes.Buffer
		if err := ds.WriteIPC(&buf); err != nil {
			b.Fatal(err)
		}
		ds.Release()
		data := buf.Bytes()
		name := "pcs"
		if n != 1_000_000 {
			name = fmt.Sprintf("pcs-%dk", n/1000)
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				got, err := pcs.ReadIPC(data, nil)
				if err != nil {
					b.Fatal(err)
				}
				if got.Len() != n {
					b.Fatal("rows")
				}
				got.Release()
			}
		})
	}
	rows := makeTxns(1_000_000)
	var gb, jb bytes.Buffer
	if err := gob.NewEncoder(&gb).Encode(rows); err != nil {
		b.Fatal(err)
	}
	if err := json.NewEncoder(&jb).Encode(rows); err != nil {
		b.Fatal(err)
	}
	b.Run("gob", func(b *testing.B) {
		for b.Loop() {
			var out []txn
			if err := gob.NewDecoder(bytes.NewReader(gb.Bytes())).Decode(&out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			var out []txn
			if err := json.NewDecoder(bytes.NewReader(jb.Bytes())).Decode(&out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// wide is a 50-column row: F00..F49 float64.
type wide struct {
	F00, F01, F02, F03, F04, F05, F06, F07, F08, F09 float64
	F10, F11, F12, F13, F14, F15, F16, F17, F18, F19 float64
	F20, F21, F22, F23, F24, F25, F26, F27, F28, F29 float64
	F30, F31, F32, F33, F34, F35, F36, F37, F38, F39 float64
	F40, F41, F42, F43, F44, F45, F46, F47, F48, F49 float64
}

// BenchmarkWideSchema: sum 3 of 50 float64 columns over 1M rows from a
// serialized batch. pcs: ReadIPC (zero copy) and a pipeline system that
// reads the 3 columns. gob: decode 1M structs of 50 fields, read 3.
func BenchmarkWideSchema(b *testing.B) {
	const n = 1_000_000
	rows := make([]wide, n)
	for i := range rows {
		v := reflect.ValueOf(&rows[i]).Elem()
		for f := 0; f < 50; f++ {
			v.Field(f).SetFloat(float64(i%97 + f))
		}
	}
	comp := pcs.MustComponent[wide]("wide")
	refs := []pcs.FieldRef[*array.Float64]{
		pcs.MustField[*array.Float64](comp, "F03"),
		pcs.MustField[*array.Float64](comp, "F27"),
		pcs.MustField[*array.Float64](comp, "F41"),
	}
	type total float64
	sum3 := pcs.SystemFunc(pcs.Meta("sum3").Read(refs[0], refs[1], refs[2]).Write(pcs.Resource[total]()), func(_ context.Context, ds *pcs.Dataset) error {
		var t float64
		for _, r := range refs {
			col, err := r.Get(ds)
			if err != nil {
				return err
			}
			for _, v := range col.Float64Values() {
				t += v
			}
		}
		return pcs.InsertResource(ds, total(t))
	})
	p, err := pcs.NewPipeline("wide").Components(comp).Add(sum3).Build()
	if err != nil {
		b.Fatal(err)
	}
	want := 0.0
	for i := range rows {
		want += rows[i].F03 + rows[i].F27 + rows[i].F41
	}

	ds := pcs.NewDataset(nil)
	if err := ds.Register(comp); err != nil {
		b.Fatal(err)
	}
	if _, err := pcs.AppendRows(ds, comp, rows); err != nil {
		b.Fatal(err)
	}
	var ipcBuf, gobBuf bytes.Buffer
	if err := ds.WriteIPC(&ipcBuf); err != nil {
		b.Fatal(err)
	}
	ds.Release()
	if err := gob.NewEncoder(&gobBuf).Encode(rows); err != nil {
		b.Fatal(err)
	}
	rows = nil

	b.Run("pcs", func(b *testing.B) {
		for b.Loop() {
			ds, err := pcs.ReadIPC(ipcBuf.Bytes(), nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Run(context.Background(), ds); err != nil {
				b.Fatal(err)
			}
			if got, _ := pcs.GetResource[total](ds); math.Abs(float64(got)-want) > 1e-6*want {
				b.Fatalf("sum %v, want %v", got, want)
			}
			ds.Release()
		}
	})
	b.Run("gob", func(b *testing.B) {
		for b.Loop() {
			var out []wide
			if err := gob.NewDecoder(bytes.NewReader(gobBuf.Bytes())).Decode(&out); err != nil {
				b.Fatal(err)
			}
			got := 0.0
			for i := range out {
				got += out[i].F03 + out[i].F27 + out[i].F41
			}
			if math.Abs(got-want) > 1e-6*want {
				b.Fatalf("sum %v, want %v", got, want)
			}
		}
	})
}

// BenchmarkPipelineFixedCost: one system over one row: the per-run
// overhead of planning access, write sets and stage bookkeeping.
func BenchmarkPipelineFixedCost(b *testing.B) {
	ds := newPoints(b, memory.NewGoAllocator(), 1)
	defer ds.Release()
	p, err := pcs.NewPipeline("fixed").Components(points).Add(fill("one", py, 1)).Build()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("pcs", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.Run(context.Background(), ds); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPipelinePerRow: z = x * 1.5 over 1M rows through a pipeline,
// vs the same loop over the arrays with no pipeline.
func BenchmarkPipelinePerRow(b *testing.B) {
	const n = 1_000_000
	mem := memory.NewGoAllocator()
	ds := newPoints(b, mem, n)
	defer ds.Release()
	scale := func(x *array.Int64) arrow.Array {
		bld := array.NewFloat64Builder(mem)
		defer bld.Release()
		bld.Resize(x.Len())
		for _, v := range x.Int64Values() {
			bld.UnsafeAppend(float64(v) * 1.5)
		}
		return bld.NewArray()
	}
	sys := pcs.SystemFunc(pcs.Meta("scale").Read(px).Write(pz), func(_ context.Context, ds *pcs.Dataset) error {
		x, err := px.Get(ds)
		if err != nil {
			return err
		}
		z := scale(x)
		defer z.Release()
		return pz.Set(ds, z.(*array.Float64))
	})
	p, err := pcs.NewPipeline("perrow").Components(points).Add(sys).Build()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("pcs", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.Run(context.Background(), ds); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/row")
	})
	b.Run("plain-loop", func(b *testing.B) {
		x, _ := px.Get(ds)
		for b.Loop() {
			scale(x).Release()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/row")
	})
}

// BenchmarkStageParallelism: two CPU-heavy systems with disjoint writes in
// one stage (concurrent) vs the same two run one after the other.
func BenchmarkStageParallelism(b *testing.B) {
	const n = 200_000
	type hashes struct {
		X int64 `arrow:"x"`
		A int64 `arrow:"a"`
		B int64 `arrow:"b"`
	}
	comp := pcs.MustComponent[hashes]("hashes")
	hx, ha, hb := pcs.MustField[*array.Int64](comp, "x"), pcs.MustField[*array.Int64](comp, "a"), pcs.MustField[*array.Int64](comp, "b")
	mem := memory.NewGoAllocator()
	ds := pcs.NewDataset(mem)
	defer ds.Release()
	rows := make([]hashes, n)
	for i := range rows {
		rows[i].X = int64(i)
	}
	if err := ds.Register(comp); err != nil {
		b.Fatal(err)
	}
	if _, err := pcs.AppendRows(ds, comp, rows); err != nil {
		b.Fatal(err)
	}
	heavy := func(name string, out pcs.FieldRef[*array.Int64]) pcs.System {
		return pcs.SystemFunc(pcs.Meta(name).Read(hx).Write(out), func(_ context.Context, ds *pcs.Dataset) error {
			x, err := hx.Get(ds)
			if err != nil {
				return err
			}
			bld := array.NewInt64Builder(mem)
			defer bld.Release()
			bld.Resize(x.Len())
			for _, v := range x.Int64Values() {
				h := uint64(v)
				for k := 0; k < 64; k++ { // ~64 rounds of mixing per row
					h ^= h >> 33
					h *= 0xff51afd7ed558ccd
				}
				bld.UnsafeAppend(int64(h))
			}
			arr := bld.NewInt64Array()
			defer arr.Release()
			return out.Set(ds, arr)
		})
	}
	one, err := pcs.NewPipeline("one-stage").Components(comp).Add(heavy("h1", ha), heavy("h2", hb)).Build()
	if err != nil {
		b.Fatal(err)
	}
	if len(one.Stages()) != 1 {
		b.Fatalf("stages %v", one.Stages())
	}
	first, _ := pcs.NewPipeline("first").Components(comp).Add(heavy("h1", ha)).Build()
	second, _ := pcs.NewPipeline("second").Components(comp).Add(heavy("h2", hb)).Build()
	b.Run("pcs", func(b *testing.B) {
		for b.Loop() {
			if _, err := one.Run(context.Background(), ds); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sequential", func(b *testing.B) {
		for b.Loop() {
			if _, err := first.Run(context.Background(), ds); err != nil {
				b.Fatal(err)
			}
			if _, err := second.Run(context.Background(), ds); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkComponentBatch: []struct -> RecordBatch for 1M x 5 rows
// (arreflect), vs hand-written typed builders.
func BenchmarkComponentBatch(b *testing.B) {
	rows := makeTxns(1_000_000)
	mem := memory.NewGoAllocator()
	b.Run("pcs", func(b *testing.B) {
		for b.Loop() {
			rec, err := txns.Batch(mem, rows)
			if err != nil {
				b.Fatal(err)
			}
			rec.Release()
		}
	})
	b.Run("typed-builders", func(b *testing.B) {
		for b.Loop() {
			rb := array.NewRecordBuilder(mem, txns.Schema())
			id, amt, cur := rb.Field(0).(*array.Int64Builder), rb.Field(1).(*array.Float64Builder), rb.Field(2).(*array.StringBuilder)
			ok, acc := rb.Field(3).(*array.BooleanBuilder), rb.Field(4).(*array.Int64Builder)
			for i := range rows {
				id.Append(rows[i].ID)
				amt.Append(rows[i].Amount)
				cur.Append(rows[i].Currency)
				ok.Append(rows[i].Valid)
				acc.Append(rows[i].Account)
			}
			rb.NewRecordBatch().Release()
			rb.Release()
		}
	})
}
