package growth

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
)

// Point is one bar of the partition-size plot.
type Point struct {
	Label      string  // the partition size, e.g. "16k"
	RowsPerSec float64 // end-to-end rows/s
}

// WritePlot writes to path a PNG bar chart of rows/s (in millions)
// against partition size, one bar per point in order, titled title.
func WritePlot(path, title string, points []Point) error {
	if len(points) == 0 {
		return fmt.Errorf("growth: nothing to plot")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "rows per partition"
	p.Y.Label.Text = "million rows/s, first publish to last output"
	vals := make(plotter.Values, len(points))
	names := make([]string, len(points))
	labels := plotter.XYLabels{XYs: make(plotter.XYs, len(points)), Labels: make([]string, len(points))}
	for i, pt := range points {
		vals[i] = pt.RowsPerSec / 1e6
		names[i] = pt.Label
		labels.XYs[i] = plotter.XY{X: float64(i), Y: vals[i]}
		labels.Labels[i] = fmt.Sprintf("%.2fM", vals[i])
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(40))
	if err != nil {
		return err
	}
	bars.Color = color.RGBA{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff}
	bars.LineStyle.Width = 0
	p.Add(bars)
	lab, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].XAlign = text.XCenter
		lab.TextStyle[i].YAlign = text.YBottom
	}
	lab.Offset = vg.Point{Y: vg.Points(3)}
	p.Add(lab)
	p.NominalX(names...)
	p.Y.Min = 0
	p.Y.Max *= 1.15 // room for the labels
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}
