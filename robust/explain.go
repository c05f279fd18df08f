package robust

// An Explanation says what a selecting rule or step chose in its last
// call, for logs, dashboards (examples/compare -explain) and tests. Fields
// a rule has nothing for are nil.
type Explanation struct {
	// Rule names the rule or step.
	Rule string
	// Selected lists the indices of the input updates the result is made
	// of, in the rule's order (Krum: the one chosen; Multi-Krum: by score;
	// Bulyan: in selection order; MDA, SMEA, MoNNA: ascending).
	Selected []int
	// Scores holds a score per input update, by index, where the rule
	// has one: Krum's sum of squared distances, CAF's final weight c_i.
	Scores []float64
	// Neighbours holds, per output of a mixing step (NNM), the input
	// indices it averages, the update itself first.
	Neighbours [][]int
}

// An Explainer reports what it chose in its last call. [Krum],
// [MultiKrum], [Bulyan], [MDA], [MoNNA], [SMEA], [CAF] and [NNM] are
// Explainers; before their first call, or after a failed one, the
// explanation is of the last successful call (empty at first).
type Explainer interface {
	Explain() Explanation
}

var (
	_ Explainer = (*Krum)(nil)
	_ Explainer = (*MultiKrum)(nil)
	_ Explainer = (*Bulyan)(nil)
	_ Explainer = (*MDA)(nil)
	_ Explainer = (*NNM)(nil)
)
