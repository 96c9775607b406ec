package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/float16"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/pcs-dev/pcs/transports"
	"github.com/pcs-dev/pcs/transports/arrowfile"
	"github.com/pcs-dev/pcs/transports/files"
)

// maxStatText is the longest rendering of a min or max value; longer ones
// are cut and end in "…".
const maxStatText = 64

// inspectReport is what pcs inspect prints, as text or (--json) as JSON.
type inspectReport struct {
	File      string         `json:"file"`
	Format    string         `json:"format"`
	SizeBytes int64          `json:"size_bytes"`
	Rows      int64          `json:"rows"`
	Schema    []inspectField `json:"schema"`

	// Parquet (footer only).
	CreatedBy    string            `json:"created_by,omitempty"`
	NumRowGroups *int              `json:"num_row_groups,omitempty"`
	RowGroups    []inspectRowGroup `json:"row_groups,omitempty"`

	// Arrow IPC: record batches read.
	Batches *int `json:"batches,omitempty"`
}

type inspectField struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

type inspectRowGroup struct {
	Index             int             `json:"index"`
	Rows              int64           `json:"rows"`
	CompressedBytes   int64           `json:"compressed_bytes"`
	UncompressedBytes int64           `json:"uncompressed_bytes"`
	Columns           []inspectColumn `json:"columns"`
}

type inspectColumn struct {
	Path              string        `json:"path"`
	PhysicalType      string        `json:"physical_type"`
	Codec             string        `json:"codec"`
	Values            int64         `json:"values"`
	CompressedBytes   int64         `json:"compressed_bytes"`
	UncompressedBytes int64         `json:"uncompressed_bytes"`
	Stats             *inspectStats `json:"statistics,omitempty"`
}

// inspectStats are a column chunk's statistics; absent parts are nil.
type inspectStats struct {
	Min           *string `json:"min,omitempty"`
	Max           *string `json:"max,omitempty"`
	NullCount     *int64  `json:"null_count,omitempty"`
	DistinctCount *int64  `json:"distinct_count,omitempty"`
}

type inspectOptions struct {
	json    bool
	maxLine sizeValue // --max-line-bytes
}

func (e *env) inspectCommand() *cobra.Command {
	o := inspectOptions{maxLine: files.DefaultMaxLineBytes}
	cmd := &cobra.Command{
		Use:   "inspect [--json] FILE",
		Short: "Show the schema, row count and layout of a Parquet, Arrow, CSV or JSON Lines file",
		Long: `Inspect prints what a file holds without publishing it. The format is
detected as pcs publish detects it: from the first bytes ("PAR1" Parquet,
"ARROW1" Arrow IPC file, 0xFFFFFFFF Arrow IPC stream), else from the
extension (.parquet; .arrow, .ipc, .feather; .arrows; .csv, .tsv with tabs;
.jsonl, .ndjson), else a first line holding a JSON object is JSON Lines.

Parquet: only the footer is read, never the data pages. The report gives the
Arrow schema, the row and row group counts, the file size and, per row group,
its rows and compressed / uncompressed bytes and per column chunk its codec,
sizes and statistics (min, max, null count) when the writer stored them.
Timestamps and dates are shown in RFC 3339, strings as text, binary as hex.

Arrow IPC files and streams, CSV and JSON Lines: the schema (for CSV and JSON
Lines the inferred one) and the row count (for Arrow also the record
batches), found by reading the whole file. A CSV record or JSON line longer
than --max-line-bytes is an error naming its line: memory stays bounded
whatever the file holds.

--json prints the same report as one JSON object.`,
		Example: `  pcs inspect flights-3m.parquet
  pcs inspect --json flights-3m.parquet | jq '.row_groups[0].columns'`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch len(args) {
			case 0:
				return usagef("inspect: no input file (see 'pcs inspect --help')")
			case 1:
				return nil
			}
			return usagef("inspect: one file at a time, got %d (see 'pcs inspect --help')", len(args))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.inspect(cmd.Context(), o, args[0])
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the report as JSON")
	cmd.Flags().Var(&o.maxLine, "max-line-bytes", "longest CSV record or JSON line read (e.g. 64MiB); a longer one is an error")
	return cmd
}

func (e *env) inspect(ctx context.Context, o inspectOptions, path string) error {
	if o.maxLine < 1 {
		return usagef("inspect: --max-line-bytes must be at least 1 byte")
	}
	rep, err := inspectFile(ctx, path, files.WithMaxLineBytes(int64(o.maxLine)))
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.writeText(e.stdout)
}

// inspectFile builds the report of the file at path; opts are given to
// files.Open (for the formats it reads whole).
func inspectFile(ctx context.Context, path string, opts ...files.Option) (*inspectReport, error) {
	format, err := files.Sniff(path)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	rep := &inspectReport{File: path, SizeBytes: st.Size(), Format: format.String()}
	if format == files.Parquet {
		err = inspectParquet(rep, path)
	} else {
		err = inspectRows(ctx, rep, path, format, opts)
	}
	if err != nil {
		return nil, err
	}
	return rep, nil
}

func schemaFields(sc *arrow.Schema) []inspectField {
	out := make([]inspectField, sc.NumFields())
	for i, f := range sc.Fields() {
		out[i] = inspectField{Name: f.Name, Type: f.Type.String(), Nullable: f.Nullable}
	}
	return out
}

// inspectParquet reads the footer of a Parquet file: no data pages.
func inspectParquet(rep *inspectReport, path string) error {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return fmt.Errorf("inspect: %s: not a readable Parquet file: %w", path, err)
	}
	defer pf.Close()
	md := pf.MetaData()
	sc, err := pqarrow.FromParquet(md.Schema, &pqarrow.ArrowReadProperties{}, md.KeyValueMetadata())
	if err != nil {
		return fmt.Errorf("inspect: %s: arrow schema: %w", path, err)
	}
	rep.Schema = schemaFields(sc)
	rep.Rows = md.NumRows
	rep.CreatedBy = md.GetCreatedBy()
	ngroups := md.NumRowGroups()
	rep.NumRowGroups = &ngroups
	rep.RowGroups = make([]inspectRowGroup, 0, ngroups)
	for i := 0; i < ngroups; i++ {
		rg := md.RowGroup(i)
		g := inspectRowGroup{Index: i, Rows: rg.NumRows()}
		var comp, uncomp int64
		for j := 0; j < rg.NumColumns(); j++ {
			cc, err := rg.ColumnChunk(j)
			if err != nil {
				return fmt.Errorf("inspect: %s: row group %d column %d: %w", path, i, j, err)
			}
			col := inspectColumn{
				Path:              cc.PathInSchema().String(),
				PhysicalType:      cc.Type().String(),
				Codec:             cc.Compression().String(),
				Values:            cc.NumValues(),
				CompressedBytes:   cc.TotalCompressedSize(),
				UncompressedBytes: cc.TotalUncompressedSize(),
			}
			comp += col.CompressedBytes
			uncomp += col.UncompressedBytes
			col.Stats = chunkStats(cc, md.Schema.Column(j))
			g.Columns = append(g.Columns, col)
		}
		// The row group's own totals are optional in the footer.
		g.CompressedBytes, g.UncompressedBytes = rg.TotalCompressedSize(), rg.TotalByteSize()
		if g.CompressedBytes <= 0 {
			g.CompressedBytes = comp
		}
		if g.UncompressedBytes <= 0 {
			g.UncompressedBytes = uncomp
		}
		rep.RowGroups = append(rep.RowGroups, g)
	}
	return nil
}

// chunkStats renders the statistics of a column chunk, or returns nil when
// there are none (or they cannot be decoded).
func chunkStats(cc *metadata.ColumnChunkMetaData, col *schema.Column) *inspectStats {
	ts, err := cc.Statistics()
	if err != nil || ts == nil {
		return nil
	}
	var out inspectStats
	if ts.HasNullCount() {
		n := ts.NullCount()
		out.NullCount = &n
	}
	if ts.HasDistinctCount() {
		n := ts.DistinctCount()
		out.DistinctCount = &n
	}
	if ts.HasMinMax() {
		if lo, hi, ok := statMinMax(ts, col); ok {
			out.Min, out.Max = &lo, &hi
		}
	}
	if out == (inspectStats{}) {
		return nil
	}
	return &out
}

// statMinMax renders typed min and max values according to the column's
// logical type.
func statMinMax(ts metadata.TypedStatistics, col *schema.Column) (lo, hi string, ok bool) {
	lt := col.LogicalType()
	switch s := ts.(type) {
	case *metadata.BooleanStatistics:
		return strconv.FormatBool(s.Min()), strconv.FormatBool(s.Max()), true
	case *metadata.Int32Statistics:
		return fmtInt(int64(s.Min()), 32, lt), fmtInt(int64(s.Max()), 32, lt), true
	case *metadata.Int64Statistics:
		return fmtInt(s.Min(), 64, lt), fmtInt(s.Max(), 64, lt), true
	case *metadata.Int96Statistics:
		f := func(v pq.Int96) string { return v.ToTime().UTC().Format(time.RFC3339Nano) }
		return f(s.Min()), f(s.Max()), true
	case *metadata.Float32Statistics:
		return fmtFloat(float64(s.Min()), 32), fmtFloat(float64(s.Max()), 32), true
	case *metadata.Float64Statistics:
		return fmtFloat(s.Min(), 64), fmtFloat(s.Max(), 64), true
	case *metadata.ByteArrayStatistics:
		return fmtBytes(s.Min(), lt), fmtBytes(s.Max(), lt), true
	case *metadata.FixedLenByteArrayStatistics:
		return fmtBytes(s.Min(), lt), fmtBytes(s.Max(), lt), true
	case *metadata.Float16Statistics:
		f := func(b []byte) string {
			if len(b) != 2 {
				return fmtBytes(b, nil)
			}
			return fmtFloat(float64(float16.FromBits(binary.LittleEndian.Uint16(b)).Float32()), 32)
		}
		return f(s.Min()), f(s.Max()), true
	}
	return "", "", false
}

// fmtFloat renders a float; writers store a zero minimum as -0 (as the
// Parquet spec asks), shown as 0.
func fmtFloat(v float64, bits int) string {
	if v == 0 {
		v = 0
	}
	return strconv.FormatFloat(v, 'g', -1, bits)
}

// fmtInt renders an INT32 or INT64 value of logical type lt.
func fmtInt(v int64, bits int, lt schema.LogicalType) string {
	switch t := lt.(type) {
	case schema.DateLogicalType:
		return time.Unix(v*86400, 0).UTC().Format(time.DateOnly)
	case schema.TimestampLogicalType:
		tm := unitTime(v, t.TimeUnit())
		if t.IsAdjustedToUTC() {
			return tm.Format(time.RFC3339Nano)
		}
		return tm.Format("2006-01-02T15:04:05.999999999") // local time, no zone
	case schema.TimeLogicalType:
		d := unitTime(v, t.TimeUnit()).Sub(time.Unix(0, 0))
		return time.Time{}.Add(d).Format("15:04:05.999999999")
	case schema.DecimalLogicalType:
		return fmtDecimal(big.NewInt(v), t.Scale())
	case schema.IntLogicalType:
		if !t.IsSigned() {
			if bits == 32 {
				return strconv.FormatUint(uint64(uint32(v)), 10)
			}
			return strconv.FormatUint(uint64(v), 10)
		}
	}
	return strconv.FormatInt(v, 10)
}

func unitTime(v int64, u schema.TimeUnitType) time.Time {
	switch u {
	case schema.TimeUnitMillis:
		return time.UnixMilli(v).UTC()
	case schema.TimeUnitMicros:
		return time.UnixMicro(v).UTC()
	}
	return time.Unix(0, v).UTC()
}

// fmtDecimal renders unscaled × 10^-scale.
func fmtDecimal(unscaled *big.Int, scale int32) string {
	s := new(big.Int).Abs(unscaled).String()
	if scale > 0 {
		if len(s) <= int(scale) {
			s = strings.Repeat("0", int(scale)-len(s)+1) + s
		}
		s = s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
	} else if scale < 0 {
		s += strings.Repeat("0", int(-scale))
	}
	if unscaled.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// fmtBytes renders a BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY value: text for
// strings, a number for decimals, a UUID, otherwise hex.
func fmtBytes(b []byte, lt schema.LogicalType) string {
	switch t := lt.(type) {
	case schema.StringLogicalType, schema.EnumLogicalType, schema.JSONLogicalType:
		if utf8.Valid(b) {
			return cut(string(b))
		}
	case schema.DecimalLogicalType:
		return fmtDecimal(twosComplement(b), t.Scale())
	case schema.UUIDLogicalType:
		if len(b) == 16 {
			h := hex.EncodeToString(b)
			return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		}
	}
	return cut("0x" + hex.EncodeToString(b))
}

// twosComplement decodes a big-endian two's complement integer.
func twosComplement(b []byte) *big.Int {
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	return v
}

// cut shortens s to maxStatText characters.
func cut(s string) string {
	if utf8.RuneCountInString(s) <= maxStatText {
		return s
	}
	r := []rune(s)
	return string(r[:maxStatText-1]) + "…"
}

// inspectRows reads a whole Arrow IPC, CSV or JSON Lines file to count
// its rows (and, for Arrow, its record batches). For CSV and JSON Lines
// the schema is the inferred one.
func inspectRows(ctx context.Context, rep *inspectReport, path string, format files.Format, opts []files.Option) error {
	src, err := files.Open(path, append([]files.Option{files.WithFormat(format)}, opts...)...)
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	defer src.Close()
	if a, ok := src.(*arrowfile.Source); ok && a.Format() == arrowfile.FormatStream {
		rep.Format = files.ArrowStream.String() // an Arrow extension on a stream
	}
	rep.Schema = schemaFields(src.Schema())
	batches := 0
	err = transports.Each(ctx, src, func(rec arrow.RecordBatch) error {
		rep.Rows += rec.NumRows()
		batches++
		return nil
	})
	if err != nil {
		return fmt.Errorf("inspect: read %s: %w", path, err)
	}
	if format == files.ArrowFile || format == files.ArrowStream {
		rep.Batches = &batches
	}
	return nil
}

// writeText prints the report for people.
func (r *inspectReport) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "file:       %s\n", r.File)
	fmt.Fprintf(&b, "format:     %s\n", r.Format)
	fmt.Fprintf(&b, "size:       %s (%s bytes)\n", humanize.IBytes(uint64(r.SizeBytes)), humanize.Comma(r.SizeBytes))
	fmt.Fprintf(&b, "rows:       %s\n", humanize.Comma(r.Rows))
	if r.NumRowGroups != nil {
		fmt.Fprintf(&b, "row groups: %d\n", *r.NumRowGroups)
	}
	if r.Batches != nil {
		fmt.Fprintf(&b, "batches:    %d\n", *r.Batches)
	}
	if r.CreatedBy != "" {
		fmt.Fprintf(&b, "created by: %s\n", r.CreatedBy)
	}
	b.WriteString("\nschema:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, f := range r.Schema {
		null := ""
		if f.Nullable {
			null = "nullable"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Name, f.Type, null)
	}
	tw.Flush()
	for _, g := range r.RowGroups {
		fmt.Fprintf(&b, "\nrow group %d: %s rows, %s compressed, %s uncompressed\n", g.Index,
			humanize.Comma(g.Rows), humanize.IBytes(uint64(g.CompressedBytes)), humanize.IBytes(uint64(g.UncompressedBytes)))
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  column\ttype\tcodec\tcompressed\tuncompressed\tnulls\tmin\tmax")
		for _, c := range g.Columns {
			nulls, lo, hi := "-", "-", "-"
			if s := c.Stats; s != nil {
				if s.NullCount != nil {
					nulls = humanize.Comma(*s.NullCount)
				}
				if s.Min != nil {
					lo, hi = *s.Min, *s.Max
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Path, c.PhysicalType, c.Codec,
				humanize.IBytes(uint64(c.CompressedBytes)), humanize.IBytes(uint64(c.UncompressedBytes)),
				nulls, oneLineValue(lo), oneLineValue(hi))
		}
		tw.Flush()
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLineValue keeps a rendered value on one line and one table cell.
func oneLineValue(s string) string {
	if strings.ContainsAny(s, "\t\n\r") {
		return strconv.Quote(s)
	}
	return s
}
