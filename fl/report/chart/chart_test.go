package chart_test

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgo/fedgo/fl/report/chart"
)

func TestCheckPath(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{filepath.Join(dir, "a.png"), filepath.Join(dir, "new", "sub", "b.SVG")} {
		if err := chart.CheckPath(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new", "sub")); err != nil {
		t.Errorf("directory not created: %v", err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "x.jpg"), filepath.Join(dir, "x"), filepath.Join(file, "under-a-file.png")} {
		if err := chart.CheckPath(p); !errors.Is(err, chart.ErrPath) {
			t.Errorf("%s: %v, want ErrPath", p, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("CheckPath left files behind: %v", entries)
	}
}

// Twelve series: the SVG labels both axes, names every series, and strokes
// with each of the palette's ten colours.
func TestLinesSVG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lines.svg")
	var series []chart.Series
	for i := range 12 {
		series = append(series, chart.Series{Name: "series-" + string(rune('a'+i)), X: []float64{1, 10, 100}, Y: []float64{0, float64(i), 1}})
	}
	if err := chart.Lines(path, "title", "x label", "y label", series, true); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	svg := string(b)
	for _, want := range []string{"x label", "y label", "series-a", "series-l"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	for _, c := range chart.Palette {
		r, g, bl, _ := c.RGBA()
		if hex := fmt.Sprintf("stroke:#%02x%02x%02x", r>>8, g>>8, bl>>8); !strings.Contains(strings.ToLower(svg), hex) {
			t.Errorf("colour %s not used", hex)
		}
	}
}

// The legend is outside the axes: in the PNG, the rightmost fifth of the
// image, at the height of the data, holds the legend's colours and the
// data region's right edge holds none of the last series' colour beyond
// the axes.
func TestLinesLegendBesideData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lines.png")
	// One series across the whole x range at the top: a legend drawn over
	// the data would sit on it.
	series := []chart.Series{{Name: "only", X: []float64{0, 1}, Y: []float64{1, 1}}, {Name: "low", X: []float64{0, 1}, Y: []float64{0, 0}}}
	if err := chart.Lines(path, "t", "x", "y", series, false); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	want := chart.Palette[0]
	bounds := img.Bounds()
	// Find the columns where the first series' colour appears.
	var cols []int
	for x := bounds.Min.X; x < bounds.Max.X; x++ {
		for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
			if same(img.At(x, y), want) {
				cols = append(cols, x)
				break
			}
		}
	}
	if len(cols) == 0 {
		t.Fatal("first series' colour not drawn")
	}
	// The line spans the axes; the legend thumbnail is a separate run of
	// columns to the right of it, with a gap between.
	gap := false
	for i := 1; i < len(cols); i++ {
		if cols[i] > cols[i-1]+5 {
			gap = true
		}
	}
	if !gap {
		t.Errorf("the legend's thumbnail is not separate from the data (columns %d..%d)", cols[0], cols[len(cols)-1])
	}
}

func same(a, b color.Color) bool {
	r1, g1, b1, _ := a.RGBA()
	r2, g2, b2, _ := b.RGBA()
	return r1>>8 == r2>>8 && g1>>8 == g2>>8 && b1>>8 == b2>>8
}

func TestHeatMap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heat.svg")
	err := chart.HeatMap(path, "accuracy", "rule", "attack", []string{"mean", "median"}, []string{"none", "alie", "ipm"},
		[][]float64{{0.9, 0.1, 0.2}, {0.88, 0.7, 0.6}}, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{"rule", "attack", "median", "ipm", "0.88"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	// The colour scale is an image beside the grid, with its end values.
	if !strings.Contains(string(b), "<image") || !strings.Contains(string(b), ">1.0<") || !strings.Contains(string(b), ">0.0<") {
		t.Error("SVG has no colour scale from 0.0 to 1.0")
	}
	if err := chart.HeatMap(path, "t", "r", "c", []string{"a"}, []string{"x", "y"}, [][]float64{{1}}, 0, 1); err == nil {
		t.Error("mismatched labels accepted")
	}
}

// TestLinesShortSeriesShowPoints: a series of a few points (a sweep over
// three ε, or a single point, which draws no line) gets filled markers;
// a long curve of the first palette cycle does not.
func TestLinesShortSeriesShowPoints(t *testing.T) {
	fill := func(n int) bool {
		path := filepath.Join(t.TempDir(), "p.svg")
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(i + 1)
		}
		if err := chart.Lines(path, "t", "x", "y", []chart.Series{{Name: "s", X: x, Y: x}}, false); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r, g, bl, _ := chart.Palette[0].RGBA()
		return strings.Contains(strings.ToLower(string(b)), fmt.Sprintf("fill:#%02x%02x%02x", r>>8, g>>8, bl>>8))
	}
	for _, n := range []int{1, 3, 12} {
		if !fill(n) {
			t.Errorf("%d points: no markers", n)
		}
	}
	if fill(50) {
		t.Error("50 points of the first series: markers drawn")
	}
}
