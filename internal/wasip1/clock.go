package wasip1

import "time"

// Clock is a process's view of time.
type Clock interface {
	// Now returns the realtime (nanoseconds since the Unix epoch) or
	// monotonic clock.
	Now(id uint32) int64
	// Resolution is the clocks' resolution in nanoseconds.
	Resolution() int64
	// Virtual reports whether time passes only as the guest reads and
	// sleeps: a wait on such a clock does not wait, it jumps.
	Virtual() bool
	// Advance moves a virtual clock forward by ns; real clocks ignore it.
	Advance(ns int64)
}

// realClock is the host's clock. Monotonic time counts from an origin the
// kernel chooses (its start), so it reveals nothing of the host's uptime.
type realClock struct{ origin time.Time }

// NewRealClock returns the host's clocks, monotonic time counted from
// origin.
func NewRealClock(origin time.Time) Clock { return realClock{origin} }

// Now implements Clock.
func (c realClock) Now(id uint32) int64 {
	if id == clockRealtime {
		return time.Now().UnixNano()
	}
	return int64(time.Since(c.origin))
}

// Resolution implements Clock.
func (realClock) Resolution() int64 { return 1 }

// Virtual implements Clock.
func (realClock) Virtual() bool { return false }

// Advance implements Clock: real time passes by itself.
func (realClock) Advance(int64) {}

// virtualClock is the clock of a process not granted the real one. It
// starts at a fixed instant, moves forward a microsecond on every reading
// so that loops waiting for time to pass still end, and jumps forward on
// sleep instead of sleeping. It depends on nothing but the guest's own
// calls, so two runs of the same program read the same times: this is
// what deterministic runs rely on.
type virtualClock struct {
	ns int64 // nanoseconds since virtualEpoch
}

// NewVirtualClock returns a fresh virtual clock.
func NewVirtualClock() Clock { return &virtualClock{} }

// virtualEpoch is 2000-01-01T00:00:00Z in Unix nanoseconds: plainly not
// now.
const virtualEpoch = 946684800 * int64(time.Second)

// virtualTick is added by each reading.
const virtualTick = 1000

// Now implements Clock: every reading moves the clock a tick.
func (c *virtualClock) Now(id uint32) int64 {
	c.ns += virtualTick
	if id == clockRealtime {
		return virtualEpoch + c.ns
	}
	return c.ns
}

// Resolution implements Clock.
func (*virtualClock) Resolution() int64 { return virtualTick }

// Virtual implements Clock.
func (*virtualClock) Virtual() bool { return true }

// Advance implements Clock: a wait jumps.
func (c *virtualClock) Advance(ns int64) {
	if ns > 0 {
		c.ns += ns
	}
}
