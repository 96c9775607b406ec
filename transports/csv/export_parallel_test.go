package csv

// SetSegmentBytes sets the least text of a parallel segment, for tests
// that need many segments from a small file; it returns the undo.
func SetSegmentBytes(n int) func() {
	old := segmentBytes
	segmentBytes = n
	return func() { segmentBytes = old }
}
