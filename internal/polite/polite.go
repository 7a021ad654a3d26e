// Package polite paces how often a running guest gives its thread to the
// Go scheduler, and fixes the fuel slice between two visits to the host.
// The kernel uses it for every guest; the fuel benchmark uses the same
// code, so that what it measures is what the kernel does.
package polite

import (
	"runtime"
	"sync/atomic"
	"time"
)

// Slice is how much fuel a process runs on between two visits to the
// host. Compiled C spends 13 to 20 units a nanosecond, so it is 50 to 75 µs
// of compute there, and Go guests (whose functions are one big dispatch
// loop, charged whole at every jump) spend it in about 10 µs: short enough
// that a spinning guest never holds up the garbage collector or a kill for
// long, long enough that the visit costs little.
const Slice = 1_000_000

// Politeness decides when a guest's fuel yield also gives its thread to
// the Go scheduler (runtime.Gosched).
//
// A pending stop-the-world does not need it: entering the Go yield function
// already passes a preemption check. What needs it is other goroutines,
// including the garbage collector's mark workers, when guests occupy every
// P. But runtime.Gosched costs 150 ns to 1 µs, and on a machine with an
// idle core it wakes that core, which takes the guest with cold caches:
// calling it at every slice cost compute kernels up to 40%. So a guest
// yields its thread every CrowdedInterval while guests are running on at
// least as many threads as there are Ps, and otherwise only every
// IdleInterval (Go's own sysmon preempts at 10 ms).
type Politeness struct {
	busy  atomic.Int32 // guests running wasm now
	procs int32
}

// Intervals between calls to runtime.Gosched from one guest.
const (
	CrowdedInterval = 100 * time.Microsecond
	IdleInterval    = 5 * time.Millisecond
)

// New counts guests against GOMAXPROCS.
func New() *Politeness { return &Politeness{procs: int32(runtime.GOMAXPROCS(0))} }

// Run records that a guest starts running wasm on a thread.
func (q *Politeness) Run() { q.busy.Add(1) }

// Wait records that a running guest stops (it blocks or ends).
func (q *Politeness) Wait() { q.busy.Add(-1) }

// Yield calls runtime.Gosched if it is due. last is when, on the same
// clock as now, this guest last did.
func (q *Politeness) Yield(last *time.Duration, now time.Duration) {
	since := now - *last
	if since >= IdleInterval || (since >= CrowdedInterval && q.busy.Load() >= q.procs) {
		*last = now
		runtime.Gosched()
	}
}
