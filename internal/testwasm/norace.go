//go:build !race

package testwasm

// raceEnabled is whether the tests run under the race detector.
const raceEnabled = false
