package kernel

import (
	"testing"
	"time"
)

// Work a worker queues locally wakes an idle worker to steal it only once
// it has waited stealDelay: a sender and the receiver it feeds, taking
// turns on one worker, are not split between cores, while work that
// really waits is spread out.
func TestLocalWorkWakesAThiefAfterStealDelay(t *testing.T) {
	s := &scheduler{maxActive: 2}
	w := &worker{s: s, wake: make(chan struct{}, 1)}
	thief := &worker{s: s, id: 1, wake: make(chan struct{}, 1)}
	s.workers = []*worker{w, thief}
	s.all.Store(&s.workers)
	s.idle = []*worker{thief}
	s.active.Store(1)
	woken := func() bool { return len(thief.wake) == 1 }

	a, b := &Process{}, &Process{}
	w.pushLocal(a)
	w.maybeWake()
	if woken() {
		t.Fatal("queuing local work woke the idle worker at once")
	}
	// The worker takes the work itself: the wait is over.
	if p := w.next(); p != a {
		t.Fatalf("next = %p, want the queued process %p", p, a)
	}
	if w.since != 0 {
		t.Fatal("an emptied local queue still counts as waiting")
	}
	w.pushLocal(b)
	w.since -= int64(stealDelay) // b has waited stealDelay
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
	w.maybeWake()
	if w.since != 0 {
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
	w.since = schedNow() - int64(stealDelay+time.Microsecond)
	p := &Process{turnWorker: w}
	p.maybeDetach()
	if len(thief.wake) != 1 {
		t.Fatal("a fuel yield with work waiting past stealDelay did not wake the idle worker")
	}
}
