package window

// SetMinChunk sets the fewest rows per goroutine of a split batch (see
// Spec.Parallelism) and returns a func that restores it.
func SetMinChunk(n int) (restore func()) {
	old := minChunk
	minChunk = n
	return func() { minChunk = old }
}

// SetMinFilterKeys sets the first capacity of the spilled keys' filter
// and returns a func that restores it.
func SetMinFilterKeys(n int) (restore func()) {
	old := minFilterKeys
	minFilterKeys = n
	return func() { minFilterKeys = old }
}
