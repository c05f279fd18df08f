package robust

// SetVectorSelection turns the AVX-512 paths of Median and TrimmedMean (the
// sorting networks, the vectorised gather and quickselect) on, where the
// processor has them, or off, and returns a func that restores the
// previous setting, so that tests cover the scalar path too.
func SetVectorSelection(on bool) (restore func()) {
	old := useVector
	useVector = on && hasAVX512
	return func() { useVector = old }
}
