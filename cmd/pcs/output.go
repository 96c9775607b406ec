package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/dustin/go-humanize"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/files"
	"github.com/pcs-dev/pcs/transports/natsjs"
)

// output receives the decoded partitions of a consume run.
type output interface {
	// write takes the batches of one partition (possibly none, possibly
	// cut at --limit); it does not keep them.
	write(ctx context.Context, p *natsjs.Partition, recs []arrow.RecordBatch) error
	// close completes the output; errNothingWritten when no batch came.
	close(ctx context.Context) error
	// abort drops an incomplete output.
	abort()
}

// errNothingWritten is returned by fileOutput.close when no rows arrived,
// so that no file (and no schema) could be written.
var errNothingWritten = errors.New("nothing written")

// fileOutput writes all rows to one file of any files.Format (files.Create:
// a hidden temporary file in the same directory, renamed to path once
// complete). The sink is created on the first batch, with its schema;
// later partitions must have the same one.
type fileOutput struct {
	path   string
	format files.Format
	sink   transports.Sink
}

func (f *fileOutput) write(ctx context.Context, _ *natsjs.Partition, recs []arrow.RecordBatch) error {
	for _, r := range recs {
		if f.sink == nil {
			s, err := files.Create(f.path, r.Schema(), files.WithFormat(f.format))
			if err != nil {
				return fmt.Errorf("create %s: %w", f.path, err)
			}
			f.sink = s
		}
		if err := f.sink.Write(ctx, r); err != nil {
			if errors.Is(err, transports.ErrSchemaMismatch) {
				return fmt.Errorf("its schema differs from the first partition's, which %s was created with: %w", f.path, err)
			}
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	return nil
}

func (f *fileOutput) close(ctx context.Context) error {
	if f.sink == nil {
		return errNothingWritten
	}
	err := f.sink.Close(ctx)
	f.sink = nil
	if err != nil {
		return fmt.Errorf("finish %s: %w", f.path, err)
	}
	return nil
}

func (f *fileOutput) abort() {
	if f.sink != nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // a done ctx makes the sink remove its temporary file
		_ = f.sink.Close(ctx)
		f.sink = nil
	}
}

// previewOutput prints the first rows of the first partitions as aligned
// tables.
type previewOutput struct {
	w          io.Writer
	rows       int // rows per partition
	partitions int // partitions shown
	shown      int
}

func (v *previewOutput) write(_ context.Context, p *natsjs.Partition, recs []arrow.RecordBatch) error {
	if v.shown >= v.partitions {
		return nil
	}
	v.shown++
	var n int64
	for _, r := range recs {
		n += r.NumRows()
	}
	head := fmt.Sprintf("partition %s (stream seq %d, %s rows", p.ID(), p.StreamSeq(), humanize.Comma(n))
	if meta, err := p.Meta(); err == nil && meta.Object != nil {
		head += ", via object store"
	}
	fmt.Fprintln(v.w, head+"):")
	if len(recs) == 0 {
		fmt.Fprintln(v.w, "  (no batches)")
		fmt.Fprintln(v.w)
		return nil
	}
	shown := writeTable(v.w, recs, v.rows)
	if rest := n - int64(shown); rest > 0 {
		fmt.Fprintf(v.w, "  ... %s more rows\n", humanize.Comma(rest))
	}
	fmt.Fprintln(v.w)
	return nil
}

func (v *previewOutput) close(context.Context) error { return nil }
func (v *previewOutput) abort()                      {}

// maxCell is the widest cell of a preview; longer values are cut.
const maxCell = 40

// writeTable prints the header and the first maxRows rows of recs (which
// share a schema), each line indented by two spaces, columns aligned
// (numbers to the right). It returns the rows printed.
func writeTable(w io.Writer, recs []arrow.RecordBatch, maxRows int) int {
	schema := recs[0].Schema()
	ncol := schema.NumFields()
	right := make([]bool, ncol)
	table := [][]string{make([]string, ncol)}
	for j, fld := range schema.Fields() {
		table[0][j] = cell(fld.Name)
		right[j] = isNumeric(fld.Type)
	}
	for _, r := range recs {
		for i := 0; i < int(r.NumRows()) && len(table)-1 < maxRows; i++ {
			row := make([]string, ncol)
			for j, col := range r.Columns() {
				if col.IsNull(i) {
					row[j] = "null"
				} else {
					row[j] = cell(col.ValueStr(i))
				}
			}
			table = append(table, row)
		}
	}
	width := make([]int, ncol)
	for _, row := range table {
		for j, s := range row {
			width[j] = max(width[j], utf8.RuneCountInString(s))
		}
	}
	var b strings.Builder
	for _, row := range table {
		b.Reset()
		b.WriteString("  ")
		for j, s := range row {
			if j > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[j]-utf8.RuneCountInString(s))
			if right[j] {
				b.WriteString(pad + s)
			} else {
				b.WriteString(s + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	return len(table) - 1
}

var cellEscaper = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`)

// cell makes a value printable on one line and at most maxCell runes wide.
func cell(s string) string {
	s = cellEscaper.Replace(s)
	if utf8.RuneCountInString(s) > maxCell {
		r := []rune(s)
		s = string(r[:maxCell-1]) + "…"
	}
	return s
}

func isNumeric(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64,
		arrow.DECIMAL32, arrow.DECIMAL64, arrow.DECIMAL128, arrow.DECIMAL256:
		return true
	}
	return false
}
