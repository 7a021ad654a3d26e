package wasip1

import (
	"runtime"
	"time"
)

// A path call is charged by a model of its walk (pathComponentFuel for
// each level of the path the guest gave), but capfs resolves the path
// through os.Root, which follows symlinks inside the grant out of the
// model's sight: up to eight of them, each up to 4 KiB of components, and
// a ".." in one restarts the walk from the root. One call through eight
// such links walked 7,000 levels charged as one (found in review). So a
// path call also runs on a meter of its host thread's CPU, and what it
// used past its allowance is charged as well. An ordinary call stays far
// inside the allowance, so its fuel is what the model says on every run.
const (
	// cpuFuel is the fuel charged for a nanosecond of host CPU: about
	// what compiled C spends in one (13 to 20 units on the test machine),
	// and what pathComponentFuel charges a level.
	cpuFuel = 15
	// meterSlack times the model, plus meterBase, is the CPU a path call
	// uses before the meter charges it: room for a loaded machine, the
	// race detector and a garbage collector's assist.
	meterSlack = 8
	meterBase  = 100 * time.Microsecond
)

// meter is a path call's reading of its thread's CPU clock at its start.
type meter struct {
	start time.Duration
	ok    bool // the clock was read: the platform has one
}

// startMeter begins a path call's meter, and pins the goroutine to its
// thread so that the clock it reads at the end is the same one.
// Precondition: called by the process's owner at the start of a host
// call, which then calls stopMeter, even if it panics.
func (s *State) startMeter() meter {
	runtime.LockOSThread()
	s.modelled = 0
	t, ok := threadCPU()
	return meter{t, ok}
}

// stopMeter charges the CPU the call used past its allowance, and
// unpins the goroutine.
// Precondition: as startMeter, once for each.
func (s *State) stopMeter(m meter) {
	end, ok := threadCPU()
	runtime.UnlockOSThread()
	if !ok || !m.ok {
		return
	}
	used := int64(end-m.start) * cpuFuel
	allowed := meterSlack*s.modelled + int64(meterBase)*cpuFuel
	if used > allowed {
		s.host.ChargeWork(used - allowed)
	}
}
