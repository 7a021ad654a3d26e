//go:build !race

package cluster

// raceDetector is whether the tests run under the race detector, which
// adds allocations of its own.
const raceDetector = false
