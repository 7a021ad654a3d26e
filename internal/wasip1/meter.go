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

// meter is a path call's reading of its thread's CPU clock.
type meter struct {
	start   time.Duration
	running bool // startMeter read the clock and pinned the thread
}

// armMeter begins a path call: nothing is metered until startMeter.
// Precondition: called by the process's owner at the start of a host
// call, which then calls stopMeter, even if it panics.
func (s *State) armMeter() {
	s.modelled = 0
	s.meter = meter{}
}

// startMeter starts the current call's meter, before the call does work
// os.Root may lead out of its model; once a call, so that a stat the
// kernel answers beneath the root pays nothing for it. It pins the
// goroutine to its thread so that the clock read at the end is the same.
// Precondition: called by the process's owner, in a call armMeter armed.
func (s *State) startMeter() {
	if s.meter.running {
		return
	}
	if t, ok := threadCPU(); ok {
		runtime.LockOSThread()
		s.meter = meter{start: t, running: true}
	}
}

// stopMeter charges the CPU the call used past its allowance, if its
// meter ran, and unpins the goroutine.
// Precondition: as armMeter, once for each.
func (s *State) stopMeter() {
	if !s.meter.running {
		return
	}
	end, ok := threadCPU()
	runtime.UnlockOSThread()
	s.meter.running = false
	if !ok {
		return
	}
	used := int64(end-s.meter.start) * cpuFuel
	allowed := meterSlack*s.modelled + int64(meterBase)*cpuFuel
	if used > allowed {
		s.host.ChargeWork(used - allowed)
	}
}
