package parquet

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/util"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/internal/fileopt"
	"github.com/pcs-dev/pcs/transports/internal/outfile"
)

// Sink writes batches of one schema to a Parquet file, or to a sequence
// of files when rolling is enabled, or to a tree of partition
// directories with WithPartitionBy. It implements transports.Sink.
//
// Write, Flush and Close are called from one goroutine at a time. Files
// may be called at any time from that goroutine.
type Sink struct {
	path     string
	schema   *arrow.Schema
	cfg      sinkConfig
	props    *pq.WriterProperties
	arrProps pqarrow.ArrowWriterProperties
	rolling  bool // numbered file names

	// part is set with WithPartitionBy: the sink then writes through one
	// file sink per partition directory and the fields below part are
	// unused.
	part *partitioned

	cur   *outFile // nil after a roll until the next row arrives
	seq   int
	files []string

	pending      []arrow.RecordBatch // retained, in order
	pendingRows  int64
	pendingBytes int64 // Arrow buffer bytes of pending, for the first estimate

	// bytesPerRow is the encoded size per row measured in finished row
	// groups (0 until one is written); it carries across files.
	bytesPerRow float64
	// footerBytes is the size of the last finished file's footer (0
	// before the first): it is reserved when cutting files by bytes.
	footerBytes int64

	// encoding holds the row groups handed to encoding goroutines and
	// not yet waited for, oldest first (at most maxQueued). Each encodes
	// after its predecessor finished (the file writer is not
	// concurrent). See writeRowGroup.
	encoding []*rowGroupJob

	err    error // first failure; sticky
	closed bool
}

var _ transports.Sink = (*Sink)(nil)

// maxQueued is the number of full row groups the sink holds for
// encoding before Write blocks: one being encoded, one waiting. With
// two, the producer goes on while a row group's columns finish encoding
// on fewer workers than cores (the chunks are of uneven cost), instead
// of leaving a core idle.
const maxQueued = 2

// rowGroupJob is a row group handed to an encoding goroutine: done is
// closed when it finished, err then holds its result.
type rowGroupJob struct {
	done chan struct{}
	err  error
}

// outFile is one Parquet file being written.
type outFile struct {
	file *outfile.File // buffered (outfile.BufferSize): many small page writes
	fw   rowGroupWriter
	rows int64
}

// NewSink creates the first output file and returns a sink bound to
// schema. Without rolling the file is exactly path; with WithRollRows or
// WithRollBytes the files are path with "-00000", "-00001", ... inserted
// before the extension. An existing file of the same name is replaced.
// The first file is created at once (so errors show here), and a sink
// that receives no rows leaves one valid file with the schema and no
// row groups; after a roll the next file is created only when rows
// arrive, so there is never an empty trailing file.
//
// With WithPartitionBy, path's directory is the root of the partition
// tree and path's base name is the file name pattern used in each
// partition directory, always numbered: NewSink("out/part.parquet", ...)
// writes "out/<col>=<value>/part-00000.parquet", ... (see the package
// doc). The root directory is created if missing; partition directories
// and files are created when their first row arrives, so a partitioned
// sink that receives no rows writes no file.
//
// Errors: ErrInvalidOption; a schema Parquet cannot represent; the file
// cannot be created (wrapped os error).
func NewSink(path string, schema *arrow.Schema, opts ...SinkOption) (*Sink, error) {
	if schema == nil {
		return nil, fmt.Errorf("%w: nil schema", ErrInvalidOption)
	}
	cfg := sinkConfig{
		SinkBase:     fileopt.NewSinkBase(),
		rowGroupRows: DefaultRowGroupRows,
		codec:        DefaultCompression,
		maxOpen:      DefaultMaxOpenPartitions,
	}
	if err := fileopt.ApplySink(&cfg, opts); err != nil {
		return nil, err
	}
	if cfg.partitionBy != nil {
		return newPartitionedSink(path, schema, cfg)
	}
	s, err := newFileSink(path, schema, cfg, cfg.rollRows > 0 || cfg.rollBytes > 0, 0)
	if err != nil {
		return nil, err
	}
	if err := s.openNext(); err != nil {
		return nil, err
	}
	return s, nil
}

// newFileSink returns a sink writing schema to path (numbered names from
// seq on if numbered), with no file open yet.
func newFileSink(path string, schema *arrow.Schema, cfg sinkConfig, numbered bool, seq int) (*Sink, error) {
	codec, err := cfg.codec.compression()
	if err != nil {
		return nil, err
	}
	wopts := []pq.WriterProperty{
		pq.WithAllocator(cfg.Mem),
		pq.WithCompression(codec),
		pq.WithMaxRowGroupLength(cfg.rowGroupRows),
		pq.WithCreatedBy("pcs (arrow-go parquet)"),
	}
	if cfg.levelSet {
		wopts = append(wopts, pq.WithCompressionLevel(cfg.level))
	}
	wopts = append(wopts, columnEncodings(schema)...)
	s := &Sink{
		path:     path,
		schema:   schema,
		cfg:      cfg,
		props:    pq.NewWriterProperties(wopts...),
		arrProps: pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(cfg.Mem)),
		rolling:  numbered,
		seq:      seq,
	}
	// Check that Parquet can represent the schema before creating files.
	if _, err := pqarrow.ToParquet(schema, s.props, s.arrProps); err != nil {
		return nil, fmt.Errorf("parquet: schema not writable as Parquet: %w", err)
	}
	return s, nil
}

// Files returns the final names of the files the sink has created, in
// order, including the one being written. After Close returned nil every
// listed file is complete. A file removed after a failure is not listed.
// With WithPartitionBy the files of all partition directories are
// listed, sorted by name.
func (s *Sink) Files() []string {
	if s.part != nil {
		return s.part.allFiles()
	}
	return slices.Clone(s.files)
}

// fileName returns the final name of file number seq.
func (s *Sink) fileName(seq int) string {
	if !s.rolling {
		return s.path
	}
	ext := filepath.Ext(s.path)
	return fmt.Sprintf("%s-%05d%s", strings.TrimSuffix(s.path, ext), seq, ext)
}

func (s *Sink) openNext() error {
	final := s.fileName(s.seq)
	file, err := outfile.Create(final, s.cfg.Atomic)
	if err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	out := &outFile{file: file}
	out.fw, err = newRowGroupWriter(s.schema, file.Writer(), s.props, s.arrProps)
	if err != nil {
		_ = file.Abandon()
		return fmt.Errorf("parquet: create %s: %w", final, err)
	}
	s.cur = out
	s.seq++
	s.files = append(s.files, final)
	return nil
}

// Write buffers rec's rows (retaining rec) and writes every row group
// that is full; the caller keeps and releases its own reference. A batch
// with zero rows is checked and otherwise ignored.
//
// ctx is checked once, before rec is accepted; once accepted, its full
// row groups are encoded to the end (encoding is not interruptible).
//
// Errors: transports.ErrSchemaMismatch (wrapped, showing both schemas)
// when rec's schema differs from the sink's (arrow.Schema.Equal: names,
// types, nullability and field metadata); ctx's error when ctx is done
// (nothing is buffered then); an encoding or I/O error, after which the
// sink is failed and every later call returns that error (a full row
// group is encoded while the caller goes on, so its error may surface
// at the next Write, Flush or Close); ErrClosed
// after Close. A schema mismatch or ctx error leaves the sink usable.
func (s *Sink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if err := s.usable(); err != nil {
		return err
	}
	if !rec.Schema().Equal(s.schema) {
		return fmt.Errorf("parquet: write %s: %w\nbatch schema:\n%s\nsink schema:\n%s",
			s.path, transports.ErrSchemaMismatch, rec.Schema(), s.schema)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec.NumRows() == 0 {
		return nil
	}
	if s.part != nil {
		return s.fail(s.part.write(context.WithoutCancel(ctx), rec))
	}
	for len(s.encoding) > 0 && finished(s.encoding[0]) { // report a failure now
		if err := s.waitOldest(); err != nil {
			return s.fail(err)
		}
	}
	rec.Retain()
	s.pending = append(s.pending, rec)
	s.pendingRows += rec.NumRows()
	s.pendingBytes += util.TotalRecordSize(rec)
	return s.fail(s.drain(context.WithoutCancel(ctx), false))
}

// Flush writes the buffered rows as a (possibly short) row group and
// hands the file's bytes to the operating system. It cannot make a
// partial Parquet file readable: a file is readable once its footer is
// written, when it rolls or at Close. ctx is checked between row groups;
// rows not yet written when it is done stay buffered. Errors as for
// Write.
func (s *Sink) Flush(ctx context.Context) error {
	if err := s.usable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.part != nil {
		return s.fail(s.part.flush(ctx))
	}
	if err := s.fail(s.drain(ctx, true)); err != nil {
		return err
	}
	if err := s.fail(s.wait()); err != nil {
		return err
	}
	if s.cur != nil {
		if err := s.cur.file.FlushBuffer(); err != nil {
			return s.fail(fmt.Errorf("parquet: %w", err))
		}
	}
	return nil
}

// Close writes the buffered rows and the footer, fsyncs, closes (and,
// with WithAtomicRename, renames) the current file and releases
// everything the sink holds. A file is complete only after Close
// returned nil.
//
// If the sink had failed, or ctx is done before the last file is
// finished, Close abandons it: the incomplete file is removed (it would
// be unreadable without its footer), files finished before stay, and
// Close returns the failure or ctx's error. Close is idempotent: later
// calls return nil.
func (s *Sink) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.part != nil {
		return s.part.close(ctx, s.err)
	}
	err := s.err
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = s.drain(ctx, true)
	}
	if err == nil && s.cur != nil {
		err = s.finish()
	}
	s.releasePending()
	if err != nil {
		s.abandon()
		return err
	}
	return nil
}

func (s *Sink) usable() error {
	if s.closed {
		return ErrClosed
	}
	return s.err
}

// fail records err as the sink's failure (unless it is nil or a context
// error, which leave the sink usable) and returns it.
func (s *Sink) fail(err error) error {
	if err != nil && s.err == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		s.err = err
	}
	return err
}

// drain writes row groups from the pending rows: every full one, and with
// force the rest too. It opens and finishes files as rolling requires.
func (s *Sink) drain(ctx context.Context, force bool) error {
	for s.pendingRows > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.cur == nil {
			if err := s.openNext(); err != nil {
				return err
			}
		}
		limit := s.cfg.rowGroupRows
		if s.cfg.rollRows > 0 {
			limit = min(limit, s.cfg.rollRows-s.cur.rows)
		}
		// cutByBytes: the row group is shortened so that the file ends
		// near rollBytes, by the measured bytes per row. With only the
		// Arrow-size estimate (first row group of the sink), the file is
		// not ended: the next row group uses the measured size.
		cutByBytes := false
		if s.cfg.rollBytes > 0 {
			left := s.cfg.rollBytes - s.footerBytes - s.cur.bytes()
			bpr := s.bytesPerRow
			if bpr == 0 {
				bpr = float64(s.pendingBytes) / float64(s.pendingRows)
			}
			allowed := max(1, int64(float64(left)/max(bpr, 1)))
			if allowed < limit {
				limit, cutByBytes = allowed, s.bytesPerRow > 0
			}
		}
		if s.pendingRows < limit && !force {
			return nil
		}
		n := min(limit, s.pendingRows)
		if err := s.writeRowGroup(n); err != nil {
			return err
		}
		full := (s.cfg.rollRows > 0 && s.cur.rows >= s.cfg.rollRows) ||
			(s.cfg.rollBytes > 0 && (s.cur.bytes()+s.footerBytes >= s.cfg.rollBytes || (cutByBytes && n == limit)))
		if full {
			if err := s.finish(); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeRowGroup writes the first n pending rows as one row group.
func (s *Sink) writeRowGroup(n int64) error {
	var recs []arrow.RecordBatch
	left := n
	for left > 0 {
		r := s.pending[0]
		if r.NumRows() <= left {
			recs = append(recs, r)
			s.pending[0] = nil
			s.pending = s.pending[1:]
			left -= r.NumRows()
			continue
		}
		recs = append(recs, r.NewSlice(0, left))
		s.pending[0] = r.NewSlice(left, r.NumRows())
		r.Release()
		left = 0
	}
	s.pendingRows -= n
	s.pendingBytes = 0
	for _, r := range s.pending {
		s.pendingBytes += util.TotalRecordSize(r)
	}

	// At most maxQueued row groups wait for encoding; with rolling by
	// bytes, none (this one's encoded size is needed at once).
	queue := maxQueued
	if s.cfg.rollBytes > 0 {
		queue = 1
	}
	for len(s.encoding) >= queue {
		if err := s.waitOldest(); err != nil {
			for _, r := range recs {
				r.Release()
			}
			return err
		}
	}
	out := s.cur
	out.rows += n
	encode := func() error {
		err := out.fw.writeRowGroup(recs, n)
		for _, r := range recs {
			r.Release()
		}
		if err != nil {
			return fmt.Errorf("parquet: write %s: %w", out.file.Name(), err)
		}
		return nil
	}
	if s.cfg.rollBytes > 0 {
		// Cutting by bytes needs this row group's encoded size now.
		if err := encode(); err != nil {
			return err
		}
		s.bytesPerRow = float64(out.bytes()) / float64(out.rows)
		return nil
	}
	// Encode while the caller produces the next row group's batches:
	// reading, decoding and computing overlap with encoding. Write
	// returns the error at its next call, Flush and Close at once. The
	// row group is written after the one before it (the same file: s.cur
	// changes only after wait); if that one failed, this one is dropped
	// with the same error.
	var prev *rowGroupJob
	if k := len(s.encoding); k > 0 {
		prev = s.encoding[k-1]
	}
	j := &rowGroupJob{done: make(chan struct{})}
	s.encoding = append(s.encoding, j)
	go func() {
		defer close(j.done)
		if prev != nil {
			<-prev.done
			if prev.err != nil {
				for _, r := range recs {
					r.Release()
				}
				j.err = prev.err
				return
			}
		}
		j.err = encode()
	}()
	return nil
}

// finished reports whether j's encoding is over.
func finished(j *rowGroupJob) bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// waitOldest waits for the oldest row group being encoded and returns
// its error.
func (s *Sink) waitOldest() error {
	j := s.encoding[0]
	s.encoding[0] = nil
	s.encoding = s.encoding[1:]
	<-j.done
	return j.err
}

// wait waits for every row group being encoded, if any, and returns the
// first error.
func (s *Sink) wait() error {
	var first error
	for len(s.encoding) > 0 {
		if err := s.waitOldest(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// finish writes the footer of the current file, syncs, closes and
// renames it.
func (s *Sink) finish() error {
	out := s.cur
	if err := s.wait(); err != nil {
		s.cur = nil
		_ = out.file.Abandon()
		_ = out.fw.Close()
		s.forget(out)
		return err
	}
	s.cur = nil
	before := out.bytes()
	if err := out.fw.Close(); err != nil {
		_ = out.file.Abandon()
		s.forget(out)
		return fmt.Errorf("parquet: finish %s: %w", out.file.Path(), err)
	}
	s.footerBytes = max(0, out.fw.TotalBytesWritten()-before)
	if err := out.file.Commit(); err != nil {
		s.forget(out)
		return fmt.Errorf("parquet: %w", err)
	}
	return nil
}

// abandon closes and removes the file being written, if any.
func (s *Sink) abandon() {
	_ = s.wait() // the failure being reported, or one after it
	out := s.cur
	if out == nil {
		return
	}
	s.cur = nil
	_ = out.file.Abandon()
	_ = out.fw.Close() // releases encoder buffers; its writes fail or go nowhere
	s.forget(out)
}

// forget removes out, which was removed from disk, from the list of files.
func (s *Sink) forget(out *outFile) {
	s.files = slices.DeleteFunc(s.files, func(f string) bool { return f == out.file.Path() })
}

func (s *Sink) releasePending() {
	for _, r := range s.pending {
		r.Release()
	}
	s.pending, s.pendingRows, s.pendingBytes = nil, 0, 0
}

// bytes returns the encoded size of the file so far: pages of finished
// and open row groups (compressed), without the footer.
func (o *outFile) bytes() int64 {
	return max(o.fw.TotalCompressedBytes(), o.fw.TotalBytesWritten())
}
