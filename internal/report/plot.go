package report

import "github.com/fedgo/fedgo/fl/report/chart"

// Series is one line of a line plot.
type Series = chart.Series

// LinePlot writes a line plot with one line per series to path, as PNG or
// SVG by the path's extension, with the legend beside the data (see
// chart.Lines).
func LinePlot(path, title, xLabel, yLabel string, series []Series, logX bool) error {
	return chart.Lines(path, title, xLabel, yLabel, series, logX)
}

// HeatMap writes a grid of values (rows × cols, row 0 at the top) with the
// row and column labels, each cell's value and a colour scale; the axis
// titles are "aggregator" and "attack", the one program that draws one
// (examples/compare) being the aggregator benchmark. New code calls
// chart.HeatMap.
func HeatMap(path, title string, rows, cols []string, values [][]float64, lo, hi float64) error {
	return chart.HeatMap(path, title, "aggregator", "attack", rows, cols, values, lo, hi)
}
