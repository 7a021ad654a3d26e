package linmem

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// The host caps how many mappings (VMAs) a process may have
// (vm.max_map_count, 65,530 by default), and past the cap every mmap
// fails: the Go runtime's own too, which is fatal to the whole host
// process. A slab is one mapping, but linmem splits slabs further: a
// memory with an image mapped over the start of its region adds two for
// as long as it lives, and a region pages were moved into keeps up to
// three for good. So linmem holds its own to shares of the cap, and past
// them does the same work without new mappings: a clone copies its image
// in (Image.Fallbacks counts them), and a move copies.
var (
	// maxMapCount is the host's cap, as read at start.
	maxMapCount = readMaxMapCount()
	// imageMapCap bounds the mappings live images add: three eighths of
	// the cap, 24,573 at the default, so 12,286 clones mapped at once.
	imageMapCap = maxMapCount * 3 / 8
	// imageMaps is the mappings live images add now.
	imageMaps atomic.Int64
)

// readMaxMapCount reads vm.max_map_count, or assumes Linux's default.
func readMaxMapCount() int64 {
	const linuxDefault = 65530
	b, err := os.ReadFile("/proc/sys/vm/max_map_count")
	if err != nil {
		return linuxDefault
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return linuxDefault
	}
	return n
}

// mappingsPerImage is what mapping an image over a region adds: the
// image's mapping, and the split-off rest of the slab's.
const mappingsPerImage = 2

// takeImageMapping reserves room for one more image mapping, reporting
// false when images are at their share of the host's mappings.
func takeImageMapping() bool {
	if imageMaps.Add(mappingsPerImage) > imageMapCap {
		imageMaps.Add(-mappingsPerImage)
		return false
	}
	return true
}

// dropImageMapping gives back what takeImageMapping took.
func dropImageMapping() { imageMaps.Add(-mappingsPerImage) }
