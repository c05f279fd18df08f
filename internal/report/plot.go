package report

import (
	"fmt"
	"image/color"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one line of a line plot.
type Series struct {
	Name string
	X, Y []float64
}

// LinePlot writes a line plot with one line per series to path, as PNG or
// SVG by the path's extension. logX puts the x axis on a log scale (x
// values must then be positive).
func LinePlot(path, title, xLabel, yLabel string, series []Series, logX bool) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.Top = false
	p.Legend.Left = false
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	for i, s := range series {
		pts := make(plotter.XYs, 0, len(s.X))
		for j := range s.X {
			if logX && s.X[j] <= 0 {
				continue
			}
			pts = append(pts, plotter.XY{X: s.X[j], Y: s.Y[j]})
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i / len(plotutil.DefaultColors))
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.Name, l)
	}
	p.Add(plotter.NewGrid())
	return save(p, path, 18*vg.Centimeter, 11*vg.Centimeter)
}

// HeatMap writes a grid of values (rows × cols, row 0 at the top) with the
// row and column labels and each cell's value printed in it.
func HeatMap(path, title string, rows, cols []string, values [][]float64, lo, hi float64) error {
	p := plot.New()
	p.Title.Text = title
	g := grid{values: values}
	pal := palette.Heat(64, 1)
	h := plotter.NewHeatMap(g, pal)
	h.Min, h.Max = lo, hi
	p.Add(h)
	var labels plotter.XYLabels
	for r := range values {
		for c, v := range values[r] {
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(c), Y: float64(len(values) - 1 - r)})
			labels.Labels = append(labels.Labels, fmt.Sprintf("%.2f", v))
		}
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].Color = color.Black
		l.TextStyle[i].XAlign = draw.XCenter
		l.TextStyle[i].YAlign = draw.YCenter
	}
	p.Add(l)
	p.X.Tick.Marker = names(cols, false)
	p.Y.Tick.Marker = names(rows, true)
	p.X.Min, p.X.Max = -0.5, float64(len(cols))-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(len(rows))-0.5
	w := vg.Length(2.2*float64(len(cols))+5) * vg.Centimeter
	hgt := vg.Length(0.9*float64(len(rows))+3) * vg.Centimeter
	return save(p, path, w, hgt)
}

type grid struct{ values [][]float64 }

func (g grid) Dims() (c, r int)   { return len(g.values[0]), len(g.values) }
func (g grid) Z(c, r int) float64 { return g.values[len(g.values)-1-r][c] }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }

// names labels integer ticks with names; reversed puts names[0] at the top.
type namedTicks struct {
	names    []string
	reversed bool
}

func names(n []string, reversed bool) plot.Ticker { return namedTicks{n, reversed} }

func (t namedTicks) Ticks(min, max float64) []plot.Tick {
	out := make([]plot.Tick, len(t.names))
	for i, n := range t.names {
		v := float64(i)
		if t.reversed {
			v = float64(len(t.names) - 1 - i)
		}
		out[i] = plot.Tick{Value: v, Label: n}
	}
	return out
}

func save(p *plot.Plot, path string, w, h vg.Length) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png", ".svg":
	default:
		return fmt.Errorf("report: plot %q: want a .png or .svg file", path)
	}
	return p.Save(w, h, path)
}
