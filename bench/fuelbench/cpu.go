package fuelbench

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// cpuMark is a reading of the whole machine's busy CPU time and of this
// process's own, in clock ticks (Linux only).
type cpuMark struct {
	at         time.Time
	busy, self uint64
	ok         bool
}

func markCPU() cpuMark {
	m := cpuMark{at: time.Now()}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return m
	}
	first, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(first)
	if len(f) < 9 || f[0] != "cpu" {
		return m
	}
	// user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		m.busy += n
	}
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return m
	}
	_, rest, ok := strings.Cut(string(self), ") ")
	f = strings.Fields(rest)
	if !ok || len(f) < 13 {
		return m
	}
	for _, v := range f[11:13] { // utime, stime
		n, _ := strconv.ParseUint(v, 10, 64)
		m.self += n
	}
	m.ok = true
	return m
}

// otherCPUSince returns the share of the machine's CPU capacity since
// start that went to other processes, or -1 if it cannot tell.
func otherCPUSince(start cpuMark) float64 {
	end := markCPU()
	if !start.ok || !end.ok || end.busy < start.busy {
		return -1
	}
	const ticksPerSecond = 100 // USER_HZ
	capacity := end.at.Sub(start.at).Seconds() * ticksPerSecond * float64(runtime.NumCPU())
	if capacity <= 0 {
		return -1
	}
	other := float64(end.busy-start.busy) - float64(end.self-start.self)
	return max(0, other/capacity)
}
