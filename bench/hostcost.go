package bench

import (
	"fmt"
	"runtime/metrics"
	"syscall"
	"time"
)

// hostCounts is what the host process did over a stretch of a run that a
// figure beside it may owe to the host rather than to isle: minor page
// faults (first touches of fresh memory, such as a growing Go heap's) and
// garbage collections.
type hostCounts struct{ faults, gcs float64 }

// readHostCounts reads the counts so far.
func readHostCounts() hostCounts {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return hostCounts{faults: float64(ru.Minflt), gcs: float64(s[0].Value.Uint64())}
}

// since returns what happened between b and c.
func (c hostCounts) since(b hostCounts) hostCounts {
	return hostCounts{faults: c.faults - b.faults, gcs: c.gcs - b.gcs}
}

// faultCost returns what a first touch of fresh anonymous memory costs
// this process, in µs per page: the page fault a growing Go heap takes on
// this machine. It maps 16 MiB, writes one byte in each page, and unmaps it.
func faultCost() (float64, error) {
	const size = 16 << 20
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return 0, fmt.Errorf("map fresh memory: %w", err)
	}
	defer syscall.Munmap(b)
	page := syscall.Getpagesize()
	t0 := time.Now()
	for i := 0; i < size; i += page {
		b[i] = 1
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(size/page) / 1e3, nil
}
