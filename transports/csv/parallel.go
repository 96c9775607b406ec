package csv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"

	"github.com/pcs-dev/pcs/transports/internal/textinfer"
)

// Parallel parsing (WithParallel) cuts the body of the file into
// segments at record boundaries and parses them on several goroutines,
// each with its own arrow-go reader; Read hands out their batches in file
// order.
//
// A boundary is a line break outside quoted fields: with strict quoting
// (no WithLazyQuotes) a '"' only opens or closes a quoted field or is
// doubled inside one, so a line break is outside quotes exactly when the
// count of '"' before it is even. One goroutine (the splitter) reads the
// file, tracking that parity and counting records (encoding/csv skips
// empty lines, so they are not records), and cuts a segment after a
// multiple of the batch rows once it holds segmentBytes: every segment
// but the last parses to full batches, so the batches are those of the
// serial reader, row for row.
//
// The splitter measures every record against the line limit. A longer
// one stops it: it sends what it holds as the last segment, parsed
// through a recordLimit, which fails where the serial reader's does.

// segmentBytes is the least text of a segment (it ends at the next
// multiple of the batch rows after that).
var segmentBytes = 8 << 20

// readBlock is how much the splitter reads from the file at a time.
const readBlock = 1 << 20

type segment struct {
	data []byte
	line int // the line of the file where data starts
	// long says that data ends in a record longer than the line limit
	// (the splitter stopped there): only then is it parsed through a
	// recordLimit, which fails where the serial reader's does. The
	// splitter has checked the records of the other segments.
	long bool
	res  chan segResult
}

// segResult is what a worker made of a segment: its batches, then, when
// err is set, the error met after them.
type segResult struct {
	recs []arrow.RecordBatch
	err  error
	lim  bool // err is the recordLimit's (a *ParseError already)
	read bool // err is the splitter's read error
}

type parallelReader struct {
	done  chan struct{}
	order chan chan segResult // results in file order
	wg    sync.WaitGroup

	waiting chan segResult      // a result Read stopped waiting for (ctx)
	cur     []arrow.RecordBatch // batches of the current segment not returned yet
	err     *segResult          // the current segment's error, after cur
}

func (s *Source) startParallel() {
	n := s.cfg.parallel
	p := &parallelReader{done: make(chan struct{}), order: make(chan chan segResult, n)}
	jobs := make(chan segment)
	p.wg.Add(n + 1)
	go func() {
		defer p.wg.Done()
		defer close(jobs)
		defer close(p.order)
		s.split(p, jobs)
	}()
	for range n {
		go func() {
			defer p.wg.Done()
			conv := make([]*textinfer.TimeParser, len(s.conv))
			for i, c := range s.conv {
				if c != nil {
					cp := *c // a parser remembers its last layout: one per goroutine
					conv[i] = &cp
				}
			}
			for seg := range jobs {
				seg.res <- s.parseSegment(seg, conv)
			}
		}()
	}
	s.par = p
}

// send queues seg for parsing, its result in order; false when the
// source is closing.
func (p *parallelReader) send(jobs chan<- segment, seg segment) bool {
	seg.res = make(chan segResult, 1)
	select {
	case p.order <- seg.res:
	case <-p.done:
		return false
	}
	select {
	case jobs <- seg:
		return true
	case <-p.done:
		return false
	}
}

// split reads the body of the file and sends it as segments.
func (s *Source) split(p *parallelReader, jobs chan<- segment) {
	r := io.NewSectionReader(s.f, s.bodyStart, 1<<62)
	line, err := s.lineAt(s.bodyStart)
	if err != nil {
		res := make(chan segResult, 1)
		res <- segResult{err: err, read: true}
		select {
		case p.order <- res:
		case <-p.done:
		}
		return
	}
	batch := s.cfg.BatchRows
	buf := make([]byte, 0, segmentBytes+2*readBlock)
	var (
		pos       int   // next byte to scan
		recStart  int   // where the current record starts
		records   int64 // records of the segment so far
		lines     int   // line breaks of the segment before pos
		inQuote   bool
		eof       bool
		oversized bool
	)
	for {
		for !oversized {
			nl := bytes.IndexByte(buf[pos:], '\n')
			if nl < 0 {
				oversized = len(buf)-recStart > int(s.cfg.MaxLineBytes)
				break
			}
			end := pos + nl + 1
			text := buf[pos:end]
			if inQuote || bytes.IndexByte(text, '"') >= 0 {
				inQuote = inQuote != (bytes.Count(text, []byte{'"'})%2 == 1)
			}
			pos = end
			lines++
			if inQuote {
				continue
			}
			if n := end - recStart; n-1 > int(s.cfg.MaxLineBytes) {
				oversized = true
				break
			} else if recStart < end-1 && !(n == 2 && buf[recStart] == '\r') { // not an empty line
				records++
			}
			recStart = end
			if records%batch == 0 && records > 0 && end >= segmentBytes {
				rest := make([]byte, len(buf)-end, max(cap(buf), len(buf)-end+2*readBlock))
				copy(rest, buf[end:])
				if !p.send(jobs, segment{data: buf[:end], line: line}) {
					return
				}
				buf, pos, recStart, records = rest, 0, 0, 0
				line += lines
				lines = 0
			}
		}
		if eof || oversized {
			if len(buf) > 0 {
				p.send(jobs, segment{data: buf, line: line, long: oversized})
			}
			return
		}
		if cap(buf)-len(buf) < readBlock {
			grown := make([]byte, len(buf), 2*cap(buf))
			copy(grown, buf)
			buf = grown
		}
		n, err := io.ReadFull(r, buf[len(buf):len(buf)+readBlock])
		buf = buf[:len(buf)+n]
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			eof = true
		case err != nil:
			res := make(chan segResult, 1)
			res <- segResult{err: fmt.Errorf("csv: read %s: %w", s.path, err), read: true}
			if len(buf[:recStart]) > 0 {
				p.send(jobs, segment{data: buf[:recStart], line: line})
			}
			select {
			case p.order <- res:
			case <-p.done:
			}
			return
		}
		select {
		case <-p.done:
			return
		default:
		}
	}
}

// parseSegment parses seg with its own arrow-go reader; conv is the
// goroutine's copy of s.conv.
func (s *Source) parseSegment(seg segment, conv []*textinfer.TimeParser) segResult {
	lim := s.newRecordLimit(bytes.NewReader(seg.data), seg.line)
	var in io.Reader = lim
	if !seg.long {
		in = bytes.NewReader(seg.data)
	}
	r := arrowcsv.NewReader(in, s.readSchema,
		arrowcsv.WithHeader(false),
		arrowcsv.WithChunk(int(s.cfg.BatchRows)),
		arrowcsv.WithComma(s.cfg.comma),
		arrowcsv.WithLazyQuotes(s.cfg.lazyQuotes),
		arrowcsv.WithNullReader(true, s.nulls...),
		arrowcsv.WithAllocator(s.cfg.Mem),
	)
	defer r.Release()
	var res segResult
	for {
		ok, err := next(r)
		if err == nil {
			err = r.Err()
		}
		if lim.err != nil {
			res.err, res.lim = lim.err, true
			return res
		}
		if err != nil {
			res.err = err
			return res
		}
		if !ok {
			return res
		}
		rec := r.RecordBatch()
		if !s.convert {
			rec.Retain()
			res.recs = append(res.recs, rec)
			continue
		}
		out, err := s.convertBatch(rec, conv)
		if err != nil {
			res.err = err
			return res
		}
		res.recs = append(res.recs, out)
	}
}

// readParallel is Read with WithParallel.
func (s *Source) readParallel(ctx context.Context) (arrow.RecordBatch, error) {
	if s.par == nil {
		s.startParallel()
	}
	p := s.par
	for len(p.cur) == 0 {
		if e := p.err; e != nil {
			switch {
			case e.lim, e.read:
				return nil, s.state.Fail(e.err)
			default:
				return nil, s.state.Fail(s.locate(s.rows, e.err))
			}
		}
		if p.waiting == nil {
			rc, ok := <-p.order
			if !ok {
				return nil, s.state.EOF()
			}
			p.waiting = rc
		}
		select {
		case res := <-p.waiting:
			p.waiting = nil
			p.cur = res.recs
			if res.err != nil {
				p.err = &res
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	rec := p.cur[0]
	p.cur[0] = nil
	p.cur = p.cur[1:]
	s.rows += rec.NumRows()
	return rec, nil
}

// stop stops the goroutines and releases the batches not handed out.
func (p *parallelReader) stop() {
	close(p.done)
	p.wg.Wait()
	for _, r := range p.cur {
		r.Release()
	}
	p.cur = nil
	release := func(rc chan segResult) {
		select {
		case res := <-rc:
			for _, r := range res.recs {
				r.Release()
			}
		default:
		}
	}
	if p.waiting != nil {
		release(p.waiting)
	}
	for {
		select {
		case rc, ok := <-p.order:
			if !ok {
				return
			}
			release(rc)
		default:
			return
		}
	}
}
