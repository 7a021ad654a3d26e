//go:build !linux

package wasip1

import "time"

// threadCPU has no thread clock to read here: path calls are charged by
// their model alone.
func threadCPU() (time.Duration, bool) { return 0, false }
