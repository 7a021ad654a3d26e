package kernel

import (
	"sync"
	"sync/atomic"
)

// A reactor that keeps feeding a receiver faster than it drains waits
// between its turns, not in them. When a sender's run ends with work
// still queued for it, and the reactor it sent to in that run has its
// mailbox more than half full, the sender is parked (schedParked): in no
// queue, holding no goroutine, until the receiver drains below half, ends
// its run with nothing queued, waits, or ends. The receiver's worker then
// queues the sender itself, as Go's runtime puts a sender blocked on a
// channel on the receiving goroutine's P.
//
// Without it, such a sender filled the mailbox and blocked inside its
// turn on the send: its worker handed its queue to a spare one, the spare
// ran the other senders, and every worker's cache held half of each
// message. On two cores, fan-in ran at half the rate it had on one.
//
// Parking only delays a sender that has more to do; a send itself is
// unchanged, and a mailbox that fills still makes its senders wait.
// Liveness: a worker that finds no work releases every parked reactor
// before it sleeps, so nothing stays parked while a core is idle, and a
// kill (landKill) unparks its reactor at once.

// parked is one reactor waiting for the receiver it fed.
type parked struct{ p, on *Process }

// parking is the scheduler's list of parked reactors.
type parking struct {
	mu   sync.Mutex // a leaf; guards list
	list []parked
	n    atomic.Int32 // len(list), read without mu
}

// noteFed records, for the run in progress on w, that its reactor sent a
// message to p. Precondition: called by w's goroutine.
func (w *worker) noteFed(sender waiter, p *Process) {
	if sp, ok := sender.(*Process); ok && sp != p && w.fed != p {
		w.fed = p
	}
}

// congested reports whether p is a reactor that will run again and whose
// mailbox is more than half full: a sender that fed it should wait.
// Precondition: the caller holds no Process.mu.
func (p *Process) congested() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	mb := &p.mbox
	switch mb.sched {
	case schedQueued, schedRunning, schedParked:
		return p.reactor && !mb.closed && !mb.waiting && mb.nearFull()
	}
	return false // idle, or in a turn that waits
}

// block marks p, a reactor whose turn is about to wait, as blocked, so
// that no sender parks behind it while it waits: the wait may be for one
// of them. It comes before the wait's flush, which releases those already
// parked. It reports whether p was marked. Precondition: called by p's
// owner, holding no lock.
func (p *Process) block() bool {
	if !p.reactor {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mbox.sched != schedRunning {
		return false
	}
	p.mbox.sched = schedBlocked
	return true
}

// unblock undoes block when the wait ends. Precondition: called by p's
// owner, holding no lock.
func (p *Process) unblock() {
	p.mu.Lock()
	if p.mbox.sched == schedBlocked {
		p.mbox.sched = schedRunning
	}
	p.mu.Unlock()
}

// feedsCongested reports whether the run in progress on w, which would
// go on, fed a congested receiver: it stops, to wait for it. It looks
// only when the run would go on, so that a run that ends anyway (a
// request's run, whose receiver is next) pays nothing for it.
// Precondition: p.mu is held, by the owner; it is dropped and taken
// again when the run fed another process.
func (p *Process) feedsCongested(w *worker) bool {
	if w.fed == nil {
		return false
	}
	p.mu.Unlock()
	c := w.fed.congested()
	p.mu.Lock()
	return c
}

// parkBehind parks p, whose run on w has just ended with work queued for
// it (p is schedQueued, in no queue), if the receiver its run fed is
// congested. It reports whether it did; if not, the caller queues p.
// Precondition: called by w's goroutine; the caller holds no lock.
func (p *Process) parkBehind(w *worker) bool {
	on := w.fed
	w.fed = nil
	if on == nil || !on.congested() {
		return false
	}
	p.mu.Lock()
	ok := p.mbox.sched == schedQueued && !p.dead && p.killReason.Load() == nil
	if ok {
		p.mbox.sched = schedParked
	}
	p.mu.Unlock()
	if !ok {
		return false
	}
	s := p.k.sched
	s.parking.mu.Lock()
	s.parking.list = append(s.parking.list, parked{p, on})
	s.parking.n.Add(1)
	s.parking.mu.Unlock()
	// The receiver may have drained, and looked for reactors parked on
	// it, between our look and our entry in the list.
	if !on.congested() {
		s.release(on, w)
	}
	return true
}

// release queues the reactors parked on on (all of them, if on is nil):
// on w's local queue when w is given, else the global queue. A reactor
// no longer parked (a kill unparked it) is dropped from the list.
// Precondition: the caller holds no lock; w, if given, is the caller's.
func (s *scheduler) release(on *Process, w *worker) {
	if s.parking.n.Load() == 0 {
		return
	}
	var buf [8]*Process
	out := buf[:0]
	pk := &s.parking
	pk.mu.Lock()
	kept := pk.list[:0]
	for _, e := range pk.list {
		if on == nil || e.on == on {
			out = append(out, e.p)
		} else {
			kept = append(kept, e)
		}
	}
	clear(pk.list[len(kept):])
	pk.list = kept
	pk.n.Store(int32(len(kept)))
	pk.mu.Unlock()
	for _, p := range out {
		p.mu.Lock()
		ok := p.mbox.sched == schedParked
		if ok {
			p.mbox.sched = schedQueued
		}
		p.mu.Unlock()
		switch {
		case !ok:
		case w != nil:
			w.push(p)
		default:
			s.ready(p, nil)
		}
	}
}

// releaseStale queues, on w, the reactors parked on a receiver that is no
// longer congested, which a release may have missed. It reports whether
// it queued any. Precondition: called by w's goroutine, which is idle.
func (s *scheduler) releaseStale(w *worker) bool {
	pk := &s.parking
	pk.mu.Lock()
	var ons []*Process
	for _, e := range pk.list {
		ons = append(ons, e.on)
	}
	pk.mu.Unlock()
	n := w.nlocal.Load()
	for _, on := range ons {
		if !on.congested() {
			s.release(on, w)
		}
	}
	return w.nlocal.Load() != n
}
