package kernel

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// DefaultMaxMemory is the node's default ceiling on guest memory: the
// machine's physical memory as /proc/meminfo reports it, or 16 GiB where
// that cannot be read. What the ceiling counts is what the guests may use
// (their linear memories at their current size, touched or not), so a node
// of many small processes may need it raised: see Config.MaxMemory.
func DefaultMaxMemory() int64 {
	if n := memTotal(); n > 0 {
		return n
	}
	return 16 << 30
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
