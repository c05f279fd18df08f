package dataset

// Dataset is a labelled classification data set held as one row-major
// matrix: row i is X[i*Dim:(i+1)*Dim] and its label is Y[i].
type Dataset struct {
	X       []float64 // Len()×Dim features, row-major
	Y       []int     // labels in [0, Classes)
	Dim     int       // features per example
	Classes int       // number of classes
}

// Len returns the number of examples.
func (d *Dataset) Len() int { return len(d.Y) }

// Row returns the features of example i, aliasing d.X.
func (d *Dataset) Row(i int) []float64 { return d.X[i*d.Dim : (i+1)*d.Dim] }
