// Package polite paces how often a running guest gives its thread to the
// Go scheduler, keeps one P for Go while guests would take them all, and
// fixes the fuel slice between two visits to the host. The kernel uses it
// for every guest; the fuel benchmark uses the same code, so that what it
// measures is what the kernel does.
package polite

import (
	"math"
	"runtime"
	"sync"
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

// Politeness decides when a guest's fuel yield gives its thread to the Go
// scheduler, and how many guests run wasm at once.
//
// With more than one P, guests take at most GOMAXPROCS-1 of them while
// they crowd: at a due yield, a guest over that limit, or any guest while
// others wait for a turn, steps aside into a FIFO and hands its place to
// the guest at its head. The P it leaves runs Go work (timers, the host's
// goroutines, the collector) or sits idle.
type Politeness struct {
	busy  atomic.Int32 // guests running wasm now (not waiting for a turn)
	procs int32
	limit int32 // how many may run at once when they crowd

	mu      sync.Mutex
	queue   []chan struct{} // guests waiting for a turn, oldest first
	waiting atomic.Int32    // len(queue)
}

// Intervals between yields of one guest.
const (
	CrowdedInterval = 100 * time.Microsecond
	IdleInterval    = 5 * time.Millisecond
)

// New counts guests against GOMAXPROCS.
func New() *Politeness {
	procs := int32(runtime.GOMAXPROCS(0))
	limit := procs - 1
	if procs == 1 {
		limit = math.MaxInt32 // no P can be kept
	}
	return &Politeness{procs: procs, limit: limit}
}

// Run records that a guest starts running wasm on a thread.
func (q *Politeness) Run() { q.busy.Add(1) }

// Wait records that a running guest stops; a waiting guest takes its place.
func (q *Politeness) Wait() {
	if q.busy.Add(-1) < q.limit && q.waiting.Load() > 0 {
		q.mu.Lock()
		q.admit()
		q.mu.Unlock()
	}
}

// Yield gives the thread to the Go scheduler, or a turn to a waiting
// guest, if it is due.
func (q *Politeness) Yield(last *time.Duration, now time.Duration) {
	since := now - *last
	crowded := q.busy.Load()+q.waiting.Load() >= q.procs
	if since >= IdleInterval || (since >= CrowdedInterval && crowded) {
		*last = now
		if crowded && q.stepAside() {
			return
		}
		runtime.Gosched()
	}
}

// stepAside queues the guest for a turn and waits for it, if it is over
// the limit or others wait. It reports whether it did.
func (q *Politeness) stepAside() bool {
	q.mu.Lock()
	if q.busy.Load() <= q.limit && len(q.queue) == 0 {
		q.mu.Unlock()
		return false
	}
	turn := make(chan struct{})
	q.queue = append(q.queue, turn)
	q.waiting.Add(1)
	q.busy.Add(-1)
	q.admit()
	q.mu.Unlock()
	<-turn
	return true
}

// admit gives free places to the guests at the head of the queue. Called
// with mu held.
func (q *Politeness) admit() {
	for q.busy.Load() < q.limit && len(q.queue) > 0 {
		turn := q.queue[0]
		q.queue[0] = nil
		q.queue = q.queue[1:]
		q.waiting.Add(-1)
		q.busy.Add(1)
		close(turn)
	}
}
