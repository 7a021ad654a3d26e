package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/polite"
)

// The scheduler runs reactor turns on a small set of worker goroutines, one
// per GOMAXPROCS, in the manner of Go's own runtime and BEAM's run queues:
//
//   - A send from a reactor's turn to an idle reactor puts the receiver in
//     the sender's worker's runnext slot, so a request and its answer run
//     back to back on one thread with no hand-off at all. A run that has
//     so fed another reactor ends after its batch, and the receiver runs
//     next (see Process.more).
//   - Other runnable reactors go to the worker's local queue or, when made
//     runnable from outside any worker, to the global queue.
//   - An idle worker steals from the others' local queues (never runnext,
//     which would break the locality above) before it parks. A reactor a
//     run puts back in its worker's local queue as the run ends wakes an
//     idle worker to steal it only once it has waited there stealDelay
//     (checked between runs and at the fuel yields of turns that have not
//     detached): a sender and its receiver that take turns on one worker
//     keep their messages in one core's cache, and moving one of them to
//     another core costs more in cache misses than the parallelism gains.
//     BEAM likewise wakes other schedulers only once work has lingered
//     (its wakeup threshold). A reactor moved to the local queue from
//     inside a turn, which may yet run long in a host call, wakes one at
//     once.
//   - A sender that keeps a receiver's mailbox more than half full waits
//     between its turns, parked in no queue, and the receiver's worker
//     queues it once it drains (congestion.go).
//   - A detached turn (see detach) makes reactors runnable through the
//     global queue: its worker's goroutine is the turn itself.
//   - A turn that blocks (recv, call, a send to a full mailbox) hands the
//     worker's queued work to a spare worker first, as Go hands off its P
//     around a blocking syscall.
//
// An idle reactor is in no queue and has no goroutine: it costs only its
// memory.
type scheduler struct {
	polite    *polite.Politeness
	maxActive int32
	active    atomic.Int32 // workers running or looking for work (not parked, not blocked)

	mu      sync.Mutex // guards global, idle, workers
	global  procQueue
	idle    []*worker
	workers []*worker
	nglobal atomic.Int32 // len(global), readable without mu
	closed  bool

	// all is workers as of the last one started, readable without mu by
	// workers looking for work.
	all atomic.Pointer[[]*worker]

	slabs slabs // free messages the workers trade (msgcache.go)

	parking parking // reactors waiting for a congested receiver (congestion.go)
}

// runnextLimit bounds how many turns in a row may come from runnext before
// the local queue gets a turn, so that two chatty reactors cannot starve
// everything else on their worker.
const runnextLimit = 64

// turnBatch is how many messages a reactor's run takes from its mailbox at
// a time; the run takes another batch while more() allows (reactor.go).
const turnBatch = 32

type worker struct {
	s  *scheduler
	id int

	runnext  *Process // touched only by this worker's goroutine
	nextRuns int

	mu     sync.Mutex // guards local; stealers take it too
	local  procQueue
	nlocal atomic.Int32
	// headAt is when the reactor at the head of local was queued, as
	// monotonic nanoseconds from schedEpoch, or 0 when local is empty:
	// how long the oldest work here has waited. Written under mu, read
	// by the owner without it.
	headAt atomic.Int64

	wake chan struct{} // cap 1

	// batch holds the messages of the run this worker's goroutine is in.
	batch batch
	// args are the handler's parameters for the turn this worker's
	// goroutine is in. They live here rather than in every Process: only
	// a running turn needs them, and wazero wants them in memory, not on
	// the Go stack, where a call through an interface would move them to
	// the heap.
	args [5]uint64
	// dispatch holds the worker's call engine for each dispatcher chunk,
	// made when it first runs a reactor of that chunk (dispatch.go).
	dispatch []api.Function
	// free is the worker's slab of free messages (msgcache.go).
	free []*Message
	// fed is the last process the run in progress sent to, other than
	// itself, with a send that waits for room; cur is the reactor whose
	// run it is (congestion.go). Touched only by this worker's goroutine.
	fed, cur *Process
	// woke is set when cur's mailbox let its waiting senders go (closed
	// mailbox.space): those parked on it are released at the run's next
	// release point (congestion.go).
	woke bool
}

// stealDelay is how long a reactor may wait in a worker's local queue
// before an idle worker is woken to steal it. It is well above the time
// a sender's batch and its receiver's run take in turns (a few µs), and
// above the run a receiver fed by many senders may take while they wait
// (runSlice), so that they are not split from it; and well below a fuel
// slice's worth of waiting for work that could run elsewhere.
const stealDelay = 2 * runSlice

// schedEpoch is the origin of worker.headAt.
var schedEpoch = time.Now()

func schedNow() int64 { return int64(time.Since(schedEpoch)) + 1 }

func newScheduler(polite *polite.Politeness) *scheduler {
	s := &scheduler{polite: polite, maxActive: int32(runtime.GOMAXPROCS(0))}
	for range s.maxActive {
		s.startWorker()
	}
	return s
}

// startWorker adds a worker goroutine. Called with mu not held.
func (s *scheduler) startWorker() {
	s.mu.Lock()
	w := &worker{s: s, id: len(s.workers), wake: make(chan struct{}, 1)}
	s.workers = append(s.workers, w)
	all := s.workers[:len(s.workers):len(s.workers)]
	s.all.Store(&all)
	s.mu.Unlock()
	s.active.Add(1)
	go w.loop()
}

// ready makes a queued reactor runnable. from is the worker whose turn
// made it runnable, or nil when it came from outside any worker.
func (s *scheduler) ready(p *Process, from *worker) {
	if from != nil {
		if old := from.runnext; old != nil {
			// From inside a turn, which may yet run long in a host
			// call: a thief is woken at once.
			from.push(old)
			from.wakeThief()
		}
		from.runnext = p
		return
	}
	s.mu.Lock()
	s.global.push(p, 0)
	s.nglobal.Add(1)
	s.mu.Unlock()
	s.wakeOne()
}

// wakeOne unparks an idle worker if there is one.
func (s *scheduler) wakeOne() {
	s.mu.Lock()
	n := len(s.idle)
	if n == 0 {
		s.mu.Unlock()
		return
	}
	w := s.idle[n-1]
	s.idle = s.idle[:n-1]
	s.mu.Unlock()
	s.active.Add(1)
	w.wake <- struct{}{}
}

// pushLocal puts p, whose run on w has just ended, in w's local queue.
// An idle worker is woken to steal from the queue once the reactor at
// its head has waited stealDelay (maybeWake). What counts is how long a
// reactor waits, not how long the queue has held something: senders and
// their receiver taking turns keep the queue from ever emptying while
// none of them waits long.
// Precondition: called by w's goroutine.
func (w *worker) pushLocal(p *Process) { w.push(p) }

// push appends p to w's local queue.
func (w *worker) push(p *Process) {
	now := schedNow()
	w.mu.Lock()
	w.local.push(p, now)
	if w.nlocal.Add(1) == 1 {
		w.headAt.Store(now)
	}
	w.mu.Unlock()
}

// wakeThief wakes an idle worker to steal from w's local queue now.
// Precondition: called by w's goroutine.
func (w *worker) wakeThief() {
	if w.s.active.Load() < w.s.maxActive {
		w.s.wakeOne()
	}
}

// maybeWake wakes an idle worker to steal from w's local queue if the
// reactor at its head has waited stealDelay. It is called between runs
// and at every fuel yield of a turn that has not detached.
// Precondition: called by w's goroutine.
func (w *worker) maybeWake() {
	if at := w.headAt.Load(); at != 0 && schedNow()-at >= int64(stealDelay) {
		w.wakeThief()
	}
}

func (w *worker) popLocal() *Process {
	if w.nlocal.Load() == 0 {
		return nil
	}
	w.mu.Lock()
	p := w.local.pop()
	if p != nil {
		w.nlocal.Add(-1)
		w.headAt.Store(w.local.headAt())
	}
	w.mu.Unlock()
	return p
}

// next finds the next reactor to run, or nil if there is none anywhere.
func (w *worker) next() *Process {
	if p := w.runnext; p != nil && w.nextRuns < runnextLimit {
		w.runnext = nil
		w.nextRuns++
		return p
	}
	w.nextRuns = 0
	if p := w.popLocal(); p != nil {
		return p
	}
	if p := w.runnext; p != nil {
		w.runnext = nil
		return p
	}
	if w.s.nglobal.Load() > 0 {
		w.s.mu.Lock()
		p := w.s.global.pop()
		if p != nil {
			w.s.nglobal.Add(-1)
		}
		w.s.mu.Unlock()
		if p != nil {
			return p
		}
	}
	return w.steal()
}

// steal takes one reactor from another worker's local queue.
func (w *worker) steal() *Process {
	workers := *w.s.all.Load()
	for i := range workers {
		v := workers[(w.id+1+i)%len(workers)]
		if v == w {
			continue
		}
		if p := v.popLocal(); p != nil {
			return p
		}
	}
	return nil
}

func (w *worker) loop() {
	for {
		w.maybeWake()
		p := w.next()
		if p == nil && w.s.parking.n.Load() > 0 && w.s.releaseStale(w) {
			continue
		}
		if p == nil {
			if !w.park() {
				return
			}
			continue
		}
		w.s.polite.Run()
		p.runTurns(w)
		w.s.polite.Wait()
		// A blocked turn may have left more workers active than there are
		// CPUs; the extra ones go back to sleep.
		if w.s.active.Load() > w.s.maxActive && w.runnext == nil && w.nlocal.Load() == 0 {
			if !w.park() {
				return
			}
		}
	}
}

// park puts the worker to sleep until there is work. It reports false when
// the scheduler is shutting down.
func (w *worker) park() bool {
	s := w.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.active.Add(-1)
		return false
	}
	// Re-check under the lock: a push to the global queue that saw no idle
	// worker must not be missed.
	if s.nglobal.Load() > 0 {
		s.mu.Unlock()
		return true
	}
	if len(s.idle) >= int(s.maxActive) {
		// A worker started for a blocked turn may not run again for long:
		// its call engines are nobody's to charge (dispatch.go). Dropped
		// under s.mu, so whoever lists the idle workers sees them gone.
		w.dispatch = nil
	}
	s.idle = append(s.idle, w)
	s.mu.Unlock()
	s.active.Add(-1)
	w.releaseSlab()
	// Work may have been pushed to a local queue between next() and now by
	// a worker that saw us still active; look once more before sleeping.
	if w.anyLocalWork() {
		s.mu.Lock()
		for i, v := range s.idle {
			if v == w {
				s.idle = append(s.idle[:i], s.idle[i+1:]...)
				s.mu.Unlock()
				s.active.Add(1)
				return true
			}
		}
		s.mu.Unlock()
		// Someone already woke us; consume the wake below.
	}
	<-w.wake
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	return !closed
}

func (w *worker) anyLocalWork() bool {
	for _, v := range *w.s.all.Load() {
		if v.nlocal.Load() > 0 {
			return true
		}
	}
	return false
}

// blocking is called by a reactor's turn before it waits. The worker's
// queued work moves to the global queue and a spare worker takes over.
func (w *worker) blocking() {
	w.releaseSlab()
	w.handOff()
	w.s.polite.Wait()
}

// unblocked is called when a blocked turn resumes.
func (w *worker) unblocked() {
	w.s.active.Add(1)
	w.s.polite.Run()
}

// detach is called by a turn that has run long while other reactors wait:
// like blocking, but the turn goes on running wasm on this thread, as a
// goroutine the Go scheduler shares out, while a spare worker serves the
// rest. reattach undoes it when the turn ends.
func (w *worker) detach() { w.handOff() }

// reattach is called when a detached turn ends.
func (w *worker) reattach() { w.s.active.Add(1) }

// handOff moves the worker's queued work to the global queue and makes
// sure another worker takes it.
func (w *worker) handOff() {
	s := w.s
	var moved []*Process
	if p := w.runnext; p != nil {
		moved = append(moved, p)
		w.runnext = nil
	}
	w.mu.Lock()
	for p := w.local.pop(); p != nil; p = w.local.pop() {
		moved = append(moved, p)
	}
	w.nlocal.Store(0)
	w.headAt.Store(0)
	w.mu.Unlock()
	s.mu.Lock()
	for _, p := range moved {
		s.global.push(p, 0)
	}
	s.nglobal.Add(int32(len(moved)))
	s.mu.Unlock()
	s.active.Add(-1)
	s.mu.Lock()
	spare := len(s.idle) > 0
	s.mu.Unlock()
	if spare {
		s.wakeOne()
	} else {
		s.startWorker()
	}
}

// waiting reports whether reactors wait for a worker: queued on this one,
// or anywhere for the global queue.
func (w *worker) waiting() bool {
	return w.runnext != nil || w.nlocal.Load() > 0 || w.s.nglobal.Load() > 0
}

// close stops every worker once it is idle.
func (s *scheduler) close() {
	s.mu.Lock()
	s.closed = true
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, w := range idle {
		w.wake <- struct{}{}
	}
}

// procQueue is a FIFO of processes, each with the time it was queued.
type procQueue struct {
	q    []queued
	head int
}

// queued is one entry of a procQueue.
type queued struct {
	p  *Process
	at int64 // when it was queued (schedNow), or 0 where nobody asks
}

func (q *procQueue) push(p *Process, at int64) { q.q = append(q.q, queued{p, at}) }

// headAt is when the process at the head was queued, or 0 if q is empty.
func (q *procQueue) headAt() int64 {
	if q.head == len(q.q) {
		return 0
	}
	return q.q[q.head].at
}

func (q *procQueue) pop() *Process {
	if q.head == len(q.q) {
		return nil
	}
	p := q.q[q.head].p
	q.q[q.head] = queued{}
	q.head++
	if q.head == len(q.q) {
		q.q, q.head = q.q[:0], 0
	} else if q.head > 256 && q.head > len(q.q)/2 {
		n := copy(q.q, q.q[q.head:])
		clear(q.q[n:])
		q.q, q.head = q.q[:n], 0
	}
	return p
}
