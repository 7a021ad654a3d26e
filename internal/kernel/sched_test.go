package kernel

import (
	"testing"
	"time"
)

// Work a worker queues locally wakes an idle worker to steal it only once
// it has waited stealDelay: a sender and the receiver it feeds, taking
// turns on one worker, are not split between cores, while work that
// really waits is spread out. What counts is how long the reactor at the
// head of the queue has waited, not how long the queue has held
// something.
func TestLocalWorkWakesAThiefAfterStealDelay(t *testing.T) {
	s := &scheduler{maxActive: 2}
	w := &worker{s: s, wake: make(chan struct{}, 1)}
	thief := &worker{s: s, id: 1, wake: make(chan struct{}, 1)}
	s.workers = []*worker{w, thief}
	s.all.Store(&s.workers)
	s.idle = []*worker{thief}
	s.active.Store(1)
	woken := func() bool { return len(thief.wake) == 1 }
	// The queue's times are set rather than left to the clock, so that a
	// test preempted for longer than stealDelay (on a loaded machine)
	// sees the same queue. young makes every queued reactor queued an
	// hour from now: none of them has waited. waited makes the one at the
	// head of the queue older by d.
	const hour = int64(time.Hour)
	young := func() {
		w.mu.Lock()
		for i := w.local.head; i < len(w.local.q); i++ {
			w.local.q[i].at = schedNow() + hour
		}
		w.headAt.Store(w.local.headAt())
		w.mu.Unlock()
	}
	waited := func(d time.Duration) {
		w.mu.Lock()
		w.local.q[w.local.head].at -= int64(d)
		w.headAt.Store(w.local.headAt())
		w.mu.Unlock()
	}

	a, b, c := &Process{}, &Process{}, &Process{}
	w.pushLocal(a)
	young()
	w.maybeWake()
	if woken() {
		t.Fatal("queuing local work woke the idle worker at once")
	}
	// The queue never empties, but nobody in it waits long: a has
	// waited stealDelay when the worker takes it, b has just come.
	w.pushLocal(b)
	young()
	waited(stealDelay)
	if p := w.next(); p != a {
		t.Fatalf("next = %p, want the queued process %p", p, a)
	}
	w.pushLocal(c)
	young()
	w.maybeWake()
	if woken() {
		t.Fatal("a queue that never emptied woke the idle worker, though none of its reactors had waited stealDelay")
	}
	waited(time.Hour + stealDelay) // b has now waited stealDelay
	w.maybeWake()
	if !woken() {
		t.Fatal("work that waited stealDelay did not wake the idle worker")
	}
	if len(s.idle) != 0 || s.active.Load() != 2 {
		t.Fatalf("after the wake: %d idle, %d active; want 0 and 2", len(s.idle), s.active.Load())
	}
	if p := thief.steal(); p != b {
		t.Fatalf("the thief stole %p, want %p", p, b)
	}
	if p := thief.steal(); p != c {
		t.Fatalf("the thief stole %p, want %p", p, c)
	}
	if at := w.headAt.Load(); at != 0 {
		t.Fatal("a local queue emptied by a thief still counts as waiting")
	}
}

// A turn that runs long checks on its waiting local work at each fuel
// yield, so work queued behind it waits about stealDelay, not the turn.
func TestFuelYieldWakesAThief(t *testing.T) {
	s := &scheduler{maxActive: 2}
	w := &worker{s: s, wake: make(chan struct{}, 1)}
	thief := &worker{s: s, id: 1, wake: make(chan struct{}, 1)}
	s.idle = []*worker{thief}
	s.active.Store(1)
	w.pushLocal(&Process{})
	w.local.q[0].at -= int64(stealDelay + time.Microsecond)
	w.headAt.Store(w.local.q[0].at)
	p := &Process{turnWorker: w}
	p.maybeDetach()
	if len(thief.wake) != 1 {
		t.Fatal("a fuel yield with work waiting past stealDelay did not wake the idle worker")
	}
}
