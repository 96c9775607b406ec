package growth

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/parquet"
)

// Column names of the flights data the benchmark shifts and checks.
const (
	dateColumn     = "date"
	delayColumn    = "delay"
	distanceColumn = "distance"
)

// microsPerDay is one day in the date column's unit (timestamp[us]).
const microsPerDay = int64(24 * 60 * 60 * 1e6)

// Sums are what the benchmark checks of the pipeline's output: the row
// count, sum(delay), sum(distance) and the sum of the date column's
// values (int64, wrapping: addition modulo 2^64 does not depend on the
// order of the rows, and it tells whether every copy's dates were
// shifted).
type Sums struct {
	Rows, Delay, Distance, Dates int64
	dated                        int64 // rows with a date
}

// Add adds o to s.
func (s *Sums) Add(o Sums) {
	s.Rows += o.Rows
	s.Delay += o.Delay
	s.Distance += o.Distance
	s.Dates += o.Dates
	s.dated += o.dated
}

// shifted returns the sums of the same rows with every date moved by off.
func (s Sums) shifted(off int64) Sums {
	s.Dates += off * s.dated
	return s
}

// column returns rec's column name, or an error naming it.
func column(rec arrow.RecordBatch, name string) (arrow.Array, error) {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		return nil, fmt.Errorf("growth: no single column %q in %s", name, rec.Schema())
	}
	return rec.Column(idx[0]), nil
}

// dateValues returns the int64 values of a timestamp or int64 column.
func dateValues(a arrow.Array) ([]int64, error) {
	switch a := a.(type) {
	case *array.Timestamp:
		return arrow.Int64Traits.CastFromBytes(arrow.TimestampTraits.CastToBytes(a.TimestampValues())), nil
	case *array.Int64:
		return a.Int64Values(), nil
	}
	return nil, fmt.Errorf("growth: column %q is %s, want a timestamp", dateColumn, a.DataType())
}

func int64Column(rec arrow.RecordBatch, name string) (*array.Int64, error) {
	c, err := column(rec, name)
	if err != nil {
		return nil, err
	}
	a, ok := c.(*array.Int64)
	if !ok {
		return nil, fmt.Errorf("growth: column %q is %s, want int64", name, c.DataType())
	}
	return a, nil
}

// ExpectedSums returns the sums of the rows of rec that the flights
// pipeline keeps (its filter: delay is not null and distance > 0).
func ExpectedSums(rec arrow.RecordBatch) (Sums, error) {
	return sums(rec, true)
}

// OutputSums returns the sums of every row of rec, an output partition
// of the pipeline; a null delay or distance, or a distance not above 0,
// is an error: the filter should have removed it.
func OutputSums(rec arrow.RecordBatch) (Sums, error) {
	return sums(rec, false)
}

func sums(rec arrow.RecordBatch, filter bool) (Sums, error) {
	delay, err := int64Column(rec, delayColumn)
	if err != nil {
		return Sums{}, err
	}
	dist, err := int64Column(rec, distanceColumn)
	if err != nil {
		return Sums{}, err
	}
	dc, err := column(rec, dateColumn)
	if err != nil {
		return Sums{}, err
	}
	dates, err := dateValues(dc)
	if err != nil {
		return Sums{}, err
	}
	var s Sums
	dv, sv := delay.Int64Values(), dist.Int64Values()
	for i := range int(rec.NumRows()) {
		keep := delay.IsValid(i) && dist.IsValid(i) && sv[i] > 0
		if !keep {
			if filter {
				continue
			}
			return Sums{}, fmt.Errorf("growth: output row %d has delay %v, distance %v: the pipeline's filter keeps no such row", i, delay.GetOneForMarshal(i), dist.GetOneForMarshal(i))
		}
		s.Rows++
		s.Delay += dv[i]
		s.Distance += sv[i]
		if dc.IsValid(i) {
			s.Dates += dates[i]
			s.dated++
		}
	}
	return s, nil
}

// Shift returns rec with its date column's values moved by off (in the
// column's unit) and every other column shared with rec. The caller
// releases both.
func Shift(rec arrow.RecordBatch, off int64) (arrow.RecordBatch, error) {
	idx := rec.Schema().FieldIndices(dateColumn)
	if len(idx) != 1 {
		return nil, fmt.Errorf("growth: no single column %q in %s", dateColumn, rec.Schema())
	}
	old := rec.Column(idx[0])
	vals, err := dateValues(old)
	if err != nil {
		return nil, err
	}
	moved := make([]int64, len(vals))
	for i, v := range vals {
		moved[i] = v + off
	}
	var nulls *memory.Buffer
	nullN := old.NullN()
	if nullN > 0 {
		// The validity bitmap at offset 0, whatever old's offset.
		bits := make([]byte, (old.Len()+7)/8)
		for i := range old.Len() {
			if old.IsValid(i) {
				bits[i/8] |= 1 << (i % 8)
			}
		}
		nulls = memory.NewBufferBytes(bits)
	}
	data := array.NewData(old.DataType(), old.Len(),
		[]*memory.Buffer{nulls, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(moved))}, nil, nullN, 0)
	col := array.MakeFromData(data)
	data.Release()
	defer col.Release()
	cols := make([]arrow.Array, rec.NumCols())
	copy(cols, rec.Columns())
	cols[idx[0]] = col
	return array.NewRecordBatch(rec.Schema(), cols, rec.NumRows()), nil
}

// Base is the flights data read into memory as partition-sized batches,
// with what the benchmark needs to repeat them.
type Base struct {
	Batches []arrow.RecordBatch
	Sums    []Sums // ExpectedSums of each batch
	Rows    int64
	// Span is the data's date span (max - min) rounded up to whole days,
	// in the date column's unit: copy k is shifted by k*Span.
	Span int64
}

// LoadBase reads the Parquet file path as batches of at most partRows
// rows.
func LoadBase(ctx context.Context, path string, partRows int64) (*Base, error) {
	src, err := parquet.NewSource(path, parquet.WithBatchRows(partRows))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	b := &Base{}
	for {
		rec, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Release()
			return nil, err
		}
		b.Batches = append(b.Batches, rec)
	}
	if err := b.index(); err != nil {
		b.Release()
		return nil, err
	}
	return b, nil
}

// NewBase returns a Base over recs (taking them over: Release releases
// them).
func NewBase(recs []arrow.RecordBatch) (*Base, error) {
	b := &Base{Batches: recs}
	if err := b.index(); err != nil {
		return nil, err
	}
	return b, nil
}

// index computes Sums, Rows and Span.
func (b *Base) index() error {
	lo, hi := int64(0), int64(0)
	seen := false
	for _, rec := range b.Batches {
		s, err := ExpectedSums(rec)
		if err != nil {
			return err
		}
		b.Sums = append(b.Sums, s)
		b.Rows += rec.NumRows()
		c, _ := column(rec, dateColumn)
		vals, _ := dateValues(c)
		for i, v := range vals {
			if c.IsNull(i) {
				continue
			}
			if !seen || v < lo {
				lo = v
			}
			if !seen || v > hi {
				hi = v
			}
			seen = true
		}
	}
	if !seen {
		return errors.New("growth: the input has no dates")
	}
	days := (hi - lo + microsPerDay - 1) / microsPerDay
	b.Span = max(days, 1) * microsPerDay
	return nil
}

// Release releases the batches.
func (b *Base) Release() {
	for _, r := range b.Batches {
		r.Release()
	}
	b.Batches = nil
}

// Each calls fn with the first rows rows of the base repeated as many
// times as needed, copy k shifted by k*Span, one partition at a time in
// order, with the partition's expected output sums. fn releases nothing:
// each partition is released when fn returns. It stops at fn's first
// error.
func (b *Base) Each(rows int64, fn func(rec arrow.RecordBatch, want Sums) error) error {
	if b.Rows == 0 {
		return errors.New("growth: empty base")
	}
	var done int64
	for k := int64(0); done < rows; k++ {
		for i, rec := range b.Batches {
			if done >= rows {
				break
			}
			n := rec.NumRows()
			want := b.Sums[i]
			part := rec
			if done+n > rows {
				n = rows - done
				part = rec.NewSlice(0, n)
				var err error
				if want, err = ExpectedSums(part); err != nil {
					part.Release()
					return err
				}
			} else {
				part.Retain()
			}
			out := part
			if k > 0 {
				var err error
				out, err = Shift(part, k*b.Span)
				part.Release()
				if err != nil {
					return err
				}
				want = want.shifted(k * b.Span)
			}
			err := fn(out, want)
			out.Release()
			if err != nil {
				return err
			}
			done += n
		}
	}
	return nil
}
