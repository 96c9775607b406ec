package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/pcs-dev/pcs/local"
	"github.com/pcs-dev/pcs/plan"
	"github.com/pcs-dev/pcs/transports/parquet"
)

// ranking says which rows of a pipeline's output the report shows: the
// top ones by column By (descending), among the rows whose column
// AtLeast is at least Min.
type ranking struct {
	Title   string
	By      string
	AtLeast string
	Min     float64
}

// rankings of the pipelines of windows.toml; another pipeline shows its
// first rows.
var rankings = map[string]ranking{
	"origin_hourly":   {Title: "worst origin-hours by average delay (10+ flights)", By: "avg_delay", AtLeast: "flights", Min: 10},
	"origin_weekly":   {Title: "worst origin-weeks by average delay (500+ flights; the first and last weeks are partial)", By: "avg_delay", AtLeast: "flights", Min: 500},
	"origin_sessions": {Title: "longest sessions by departures", By: "departures"},
	"github_daily":    {Title: "busiest days by commits", By: "commits"},
	"stocks_yearly":   {Title: "highest yearly average prices", By: "avg_price"},
}

// table is a window output read back: column names, each row's cells as
// text and the numeric value of each numeric cell (NaN otherwise).
type table struct {
	names  []string
	isTime []bool // timestamp columns: num holds Unix ms, text is set by formatTimes
	text   [][]string
	num    [][]float64
}

func (t *table) col(name string) int { return slices.Index(t.names, name) }

// readTable reads the Parquet file at path.
func readTable(ctx context.Context, path string) (*table, error) {
	src, err := parquet.NewSource(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	t := &table{}
	for {
		rec, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		if t.names == nil {
			for _, f := range rec.Schema().Fields() {
				_, ts := f.Type.(*arrow.TimestampType)
				t.names, t.isTime = append(t.names, f.Name), append(t.isTime, ts)
			}
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			text := make([]string, rec.NumCols())
			num := make([]float64, rec.NumCols())
			for c, col := range rec.Columns() {
				text[c], num[c] = cell(col, i)
			}
			t.text = append(t.text, text)
			t.num = append(t.num, num)
		}
		rec.Release()
	}
}

// cell formats row i of col (floats with two decimals) and gives its
// number: timestamps as Unix ms, for formatTimes.
func cell(col arrow.Array, i int) (string, float64) {
	if col.IsNull(i) {
		return "", math.NaN()
	}
	switch a := col.(type) {
	case *array.Int64:
		return fmt.Sprint(a.Value(i)), float64(a.Value(i))
	case *array.Float64:
		return fmt.Sprintf("%.2f", a.Value(i)), a.Value(i)
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return "", float64(a.Value(i).ToTime(unit).UnixMilli())
	}
	return col.ValueStr(i), math.NaN()
}

// formatTimes formats the timestamp cells of rows in UTC, per column: as
// dates when every one is at midnight, else to the minute (or second).
func (t *table) formatTimes(rows []int) {
	for c, ts := range t.isTime {
		if !ts {
			continue
		}
		layout := "2006-01-02"
		for _, r := range rows {
			switch ms := int64(t.num[r][c]); {
			case ms%60_000 != 0:
				layout = "2006-01-02 15:04:05"
			case ms%86_400_000 != 0 && layout == "2006-01-02":
				layout = "2006-01-02 15:04"
			}
		}
		for _, r := range rows {
			if !math.IsNaN(t.num[r][c]) {
				t.text[r][c] = time.UnixMilli(int64(t.num[r][c])).UTC().Format(layout)
			}
		}
	}
}

// report prints what pipeline pc did and the top rows of its output.
func report(ctx context.Context, out io.Writer, pc plan.Pipeline, st local.Stats, top int) error {
	fmt.Fprintf(out, "%s: %s\n", pc.Name, windowOf(pc))
	fmt.Fprintf(out, "  rows in:     %d (%s)\n", st.RowsIn, strings.Join(pc.Input.Files, ", "))
	fmt.Fprintf(out, "  windows out: %d in %v\n", st.RowsOut, st.Elapsed.Round(time.Millisecond))
	if st.LateRows > 0 {
		fmt.Fprintf(out, "  late rows:   %d\n", st.LateRows)
	}
	t, err := readTable(ctx, st.Output)
	if err != nil {
		return err
	}
	rk, ok := rankings[pc.Name]
	rows := make([]int, 0, len(t.text))
	by, atLeast := t.col(rk.By), t.col(rk.AtLeast)
	for i := range t.text {
		if atLeast < 0 || t.num[i][atLeast] >= rk.Min {
			rows = append(rows, i)
		}
	}
	if ok && by >= 0 {
		slices.SortStableFunc(rows, func(a, b int) int {
			x, y := t.num[a][by], t.num[b][by]
			switch {
			case x > y:
				return -1
			case x < y:
				return 1
			}
			return 0
		})
	} else {
		rk.Title = "first windows"
	}
	rows = rows[:min(top, len(rows))]
	t.formatTimes(rows)
	fmt.Fprintf(out, "  %s:\n", rk.Title)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	shown := func(c int) bool { return t.names[c] != "is_update" }
	line := "    "
	for c, n := range t.names {
		if shown(c) {
			line += n + "\t"
		}
	}
	fmt.Fprintln(tw, line)
	for _, r := range rows {
		line := "    "
		for c := range t.names {
			if shown(c) {
				line += t.text[r][c] + "\t"
			}
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return nil
}

// windowOf describes the pipeline's window system from its options.
func windowOf(pc plan.Pipeline) string {
	for _, s := range pc.Systems {
		if s.Use == "window" {
			keys := "all rows"
			if k, ok := s.Options["keys"].([]any); ok && len(k) > 0 {
				keys = fmt.Sprint(k...)
			}
			return fmt.Sprintf("%v by %s: %v", s.Options["window"], keys, s.Options["aggregates"])
		}
	}
	return "no window"
}
