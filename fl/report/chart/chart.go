// Package chart draws the figures of fedgo's example programs with
// gonum/plot: line plots ([Lines]) whose series have distinct colours and
// whose legend sits beside the data, never over it, and heat maps
// ([HeatMap]) with a colour scale. Axes are always labelled. A figure is
// written as PNG or SVG, chosen by the file's extension; [CheckPath]
// refuses a path that cannot be written before the work that produces the
// figure starts.
//
// It is separate from package report so that a program that only prints
// does not compile a plotting library.
package chart

import (
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ErrPath is wrapped by the error of a figure path that cannot be written.
var ErrPath = errors.New("chart: bad figure path")

// Series is one line of a line plot.
type Series struct {
	Name string
	X, Y []float64
}

// fewPoints is the length up to which every series draws its points, not
// only the series past the palette's length: on a sweep of a few values
// the points are the data, and a single point draws no line.
const fewPoints = 12

// Palette holds the line colours, in order: Paul Tol's "muted" scheme,
// which stays distinct for colour-blind readers. Series past its length
// reuse the colours with another dash pattern and marker.
var Palette = []color.Color{
	rgb(0x33, 0x22, 0x88), rgb(0x88, 0xcc, 0xee), rgb(0x44, 0xaa, 0x99), rgb(0x11, 0x77, 0x33),
	rgb(0x99, 0x99, 0x33), rgb(0xdd, 0xcc, 0x77), rgb(0xcc, 0x66, 0x77), rgb(0x88, 0x22, 0x55),
	rgb(0xaa, 0x44, 0x99), rgb(0x00, 0x00, 0x00),
}

func rgb(r, g, b uint8) color.Color { return color.RGBA{r, g, b, 0xff} }

var (
	dashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)}, {vg.Points(8), vg.Points(2), vg.Points(2), vg.Points(2)}}
	glyphs = []draw.GlyphDrawer{nil, draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}}
)

// CheckPath returns an error wrapping [ErrPath] unless path ends in .png or
// .svg and its directory exists or can be created (it creates it).
func CheckPath(path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png", ".svg":
	default:
		return fmt.Errorf("%w: %q: want a .png or .svg file", ErrPath, path)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %v", ErrPath, err)
	}
	f, err := os.CreateTemp(dir, ".chart-check-*")
	if err != nil {
		return fmt.Errorf("%w: directory %s is not writable: %v", ErrPath, dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// Lines writes a line plot, one line per series, to path. logX puts the x
// axis on a log scale (points with x ≤ 0 are then left out). The legend is
// drawn to the right of the axes.
func Lines(path, title, xLabel, yLabel string, series []Series, logX bool) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Add(plotter.NewGrid())
	legend := plot.NewLegend() // drawn beside the axes, not by p.Draw over the data
	legend.Top, legend.Left, legend.Padding = true, true, vg.Points(1)
	for i, s := range series {
		pts := make(plotter.XYs, 0, len(s.X))
		for j := range s.X {
			if !logX || s.X[j] > 0 {
				pts = append(pts, plotter.XY{X: s.X[j], Y: s.Y[j]})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		cycle := i / len(Palette)
		l.Color, l.Width = Palette[i%len(Palette)], vg.Points(1.5)
		l.Dashes = dashes[cycle%len(dashes)]
		p.Add(l)
		thumbs := []plot.Thumbnailer{l}
		g := glyphs[cycle%len(glyphs)]
		if g == nil && len(pts) <= fewPoints {
			g = draw.CircleGlyph{} // a short series' points must show (one alone has no line)
		}
		if g != nil {
			sc.Shape, sc.Color, sc.Radius = g, l.Color, vg.Points(2.5)
			p.Add(sc)
			thumbs = append(thumbs, sc)
		}
		legend.Add(s.Name, thumbs...)
	}
	return save(path, 20*vg.Centimeter, 11*vg.Centimeter, func(c draw.Canvas) {
		r := legend.Rectangle(c)
		w := r.Max.X - r.Min.X + vg.Points(12)
		p.Draw(draw.Crop(c, 0, -w, 0, 0))
		legend.Draw(draw.Crop(c, c.Max.X-c.Min.X-w+vg.Points(6), 0, 0, -vg.Points(24)))
	})
}

// HeatMap writes a grid of values (rows × cols, row 0 at the top) with
// the row and column labels, the axis titles, each cell's value printed in
// it, and a colour scale from lo to hi beside it.
func HeatMap(path, title, rowTitle, colTitle string, rows, cols []string, values [][]float64, lo, hi float64) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	if len(values) == 0 || len(values) != len(rows) || len(values[0]) != len(cols) {
		return fmt.Errorf("chart: heat map of %d rows for %d row labels and %d column labels", len(values), len(rows), len(cols))
	}
	if !(lo < hi) {
		lo, hi = lo-0.5, lo+0.5
	}
	cmap := moreland.SmoothBlueRed()
	cmap.SetMin(lo)
	cmap.SetMax(hi)
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = colTitle, rowTitle
	h := plotter.NewHeatMap(grid(values), cmap.Palette(64))
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
		l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
	}
	p.Add(l)
	p.X.Tick.Marker, p.Y.Tick.Marker = named(cols, false), named(rows, true)
	p.X.Min, p.X.Max = -0.5, float64(len(cols))-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(len(rows))-0.5

	scale := plot.New()
	scale.Add(&plotter.ColorBar{ColorMap: cmap, Vertical: true})
	scale.HideX()
	scale.Y.Padding = 0
	scale.Title.Text = " "

	w := vg.Length(2.2*float64(len(cols))+8) * vg.Centimeter
	ht := vg.Length(0.9*float64(len(rows))+4) * vg.Centimeter
	return save(path, w, ht, func(c draw.Canvas) {
		bar := 2.5 * vg.Centimeter
		p.Draw(draw.Crop(c, 0, -bar, 0, 0))
		scale.Draw(draw.Crop(c, c.Max.X-c.Min.X-bar+vg.Points(8), 0, p.X.Label.TextStyle.Height(colTitle)+vg.Points(30), 0))
	})
}

type grid [][]float64

func (g grid) Dims() (c, r int)   { return len(g[0]), len(g) }
func (g grid) Z(c, r int) float64 { return g[len(g)-1-r][c] }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }

// namedTicks labels the integer ticks with names; reversed puts names[0]
// at the top.
type namedTicks struct {
	names    []string
	reversed bool
}

func named(n []string, reversed bool) plot.Ticker { return namedTicks{n, reversed} }

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

// save draws a figure of w × h with draw and writes it to path in the
// format of its extension.
func save(path string, w, h vg.Length, drawFn func(draw.Canvas)) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	cw, err := draw.NewFormattedCanvas(w, h, format)
	if err != nil {
		return err
	}
	drawFn(draw.New(cw))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := cw.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
