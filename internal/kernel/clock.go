package kernel

// virtualClock is the clock of a process that was not granted the real
// one. It starts at a fixed instant, moves forward a microsecond on every
// reading so that loops waiting for time to pass still end, and jumps
// forward on sleep instead of sleeping. It depends on nothing but the
// guest's own calls, so two runs of the same program read the same times:
// this is what --deterministic relies on.
//
// Only the process's own goroutine touches it.
type virtualClock struct {
	ns int64 // nanoseconds since virtualEpoch
}

// virtualEpoch is 2000-01-01T00:00:00Z, in Unix seconds: obviously not now.
const virtualEpoch = 946684800

const virtualTick = 1000 // nanoseconds added by each reading

func (c *virtualClock) nanotime() int64 {
	c.ns += virtualTick
	return c.ns
}

func (c *virtualClock) walltime() (int64, int32) {
	c.ns += virtualTick
	return virtualEpoch + c.ns/1e9, int32(c.ns % 1e9)
}

func (c *virtualClock) sleep(ns int64) {
	if ns > 0 {
		c.ns += ns
	}
}
