package local

import (
	"context"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/transports"
)

// prefetchBatches is how many input batches `pcs run` decodes ahead of
// the pipeline: reading (Parquet decoding, CSV parsing) runs on its own
// goroutine while the pipeline steps the batch before, so the two
// overlap on a multi-core machine instead of taking turns.
const prefetchBatches = 2

// prefetched is what the reading goroutine hands over: a batch, or the
// error Read returned (io.EOF at the end).
type prefetched struct {
	rec arrow.RecordBatch
	err error
}

// reader reads a Source ahead on its own goroutine. next is called from
// one goroutine; stop must be called before the Source is closed (Read
// and Close are not concurrent), after which next must not be called.
type reader struct {
	ch     chan prefetched
	cancel context.CancelFunc
	wg     sync.WaitGroup
	err    error // returned by next once, then again
}

// prefetch starts reading src, up to depth batches ahead of next. The
// batches belong to the caller once next returns them; the ones read
// ahead and not taken are released by stop.
func prefetch(ctx context.Context, src transports.Source, depth int) *reader {
	ctx, cancel := context.WithCancel(ctx)
	r := &reader{ch: make(chan prefetched, depth), cancel: cancel}
	r.wg.Go(func() {
		defer close(r.ch)
		for {
			rec, err := src.Read(ctx)
			select {
			case r.ch <- prefetched{rec, err}:
			case <-ctx.Done():
				if rec != nil {
					rec.Release()
				}
				return
			}
			if err != nil {
				return
			}
		}
	})
	return r
}

// next returns the next batch, or the error Read returned (io.EOF after
// the last batch); after an error it keeps returning it.
func (r *reader) next() (arrow.RecordBatch, error) {
	if r.err != nil {
		return nil, r.err
	}
	p, ok := <-r.ch
	if !ok { // only after stop
		r.err = context.Canceled
		return nil, r.err
	}
	r.err = p.err
	return p.rec, p.err
}

// stop ends the reading goroutine, releases the batches it read ahead
// and waits for it, so that the Source can be closed.
func (r *reader) stop() {
	r.cancel()
	for p := range r.ch {
		if p.rec != nil {
			p.rec.Release()
		}
	}
	r.wg.Wait()
}
