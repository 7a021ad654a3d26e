//go:build !race

package isle_test

// raceDetector is whether the tests run under the race detector, which
// adds allocations of its own.
const raceDetector = false
