package main

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/util"
)

// cutter re-cuts a sequence of record batches into partitions of at most
// maxRows rows and about maxBytes bytes, without copying: it slices the
// incoming batches (RecordBatch.NewSlice) and groups consecutive slices
// into one partition (an IPC stream may carry several batches). The byte
// size of a slice is estimated from its batch's buffer sizes, spread evenly
// over the rows. A partition holds at least one row, even when one row is
// above maxBytes.
//
// The cut depends only on the input batches and the limits, so the same
// file cut with the same flags yields the same partitions (and ids).
type cutter struct {
	maxRows  int64
	maxBytes int64
	// emit publishes one partition. It does not keep recs; the cutter
	// releases them afterwards.
	emit func(recs []arrow.RecordBatch) error

	group []arrow.RecordBatch
	rows  int64
	bytes float64
}

// push adds rec's rows, emitting every partition that becomes full. It
// does not keep rec beyond its slices (which it retains); the caller
// releases rec.
func (c *cutter) push(rec arrow.RecordBatch) error {
	n := rec.NumRows()
	if n == 0 {
		return nil
	}
	perRow := float64(util.TotalRecordSize(rec)) / float64(n)
	for off := int64(0); off < n; {
		take := min(n-off, c.maxRows-c.rows)
		if perRow > 0 {
			fit := int64((float64(c.maxBytes) - c.bytes) / perRow)
			take = min(take, fit)
		}
		if take <= 0 {
			if c.rows > 0 {
				if err := c.flush(); err != nil {
					return err
				}
				continue
			}
			take = 1 // one row above maxBytes: a partition of its own
		}
		c.group = append(c.group, rec.NewSlice(off, off+take))
		c.rows += take
		c.bytes += float64(take) * perRow
		off += take
		if c.rows >= c.maxRows || (perRow > 0 && c.bytes+perRow > float64(c.maxBytes)) {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush emits the rows gathered so far as one partition, if any.
func (c *cutter) flush() error {
	if len(c.group) == 0 {
		return nil
	}
	err := c.emit(c.group)
	c.release()
	return err
}

// release drops the gathered slices without emitting them.
func (c *cutter) release() {
	for _, r := range c.group {
		r.Release()
	}
	clear(c.group)
	c.group, c.rows, c.bytes = c.group[:0], 0, 0
}
