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
// Liveness: nobody parks behind a parked reactor, so parking makes no
// cycle; a turn or host call that waits (block) lets those parked on it
// go first, and nobody parks behind it while it waits, since it may wait
// for one of them; a worker that finds no work releases whatever is
// parked on a receiver no longer congested; and a kill (landKill)
// unparks its reactor at once and drops its entry. Only blocking sends
// count: a sender that asked not to wait is never parked.

// parked is one reactor waiting for the receiver it fed.
type parked struct{ p, on *Process }

// parking is the scheduler's list of parked reactors.
type parking struct {
	mu   sync.Mutex // a leaf; guards list
	list []parked
	n    atomic.Int32 // len(list), read without mu
}

// noteFed records, for the run in progress on w, that its reactor sent a
// message to p with a send that waits for room: a sender that asked not
// to wait (sendNonBlock) is never parked for its receiver.
// Precondition: called by w's goroutine.
func (w *worker) noteFed(sender waiter, p *Process, mode sendMode) {
	if mode != sendBlock {
		return
	}
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
	return p.congestedLocked()
}

// congestedLocked is congested. Precondition: p.mu is held.
func (p *Process) congestedLocked() bool {
	mb := &p.mbox
	switch mb.sched {
	case schedQueued, schedRunning:
		return p.reactor && !mb.closed && !mb.waiting && mb.nearFull()
	}
	// Idle, in a turn that waits, or parked itself: nobody parks behind a
	// parked reactor, so parking never makes a cycle.
	return false
}

// block marks the reactors a wait holds up as blocked, so that no sender
// parks behind them while it lasts (the wait may be for one of them), and
// releases those already parked: p, whose turn or start function is about
// to wait, and the reactor whose run p's worker is in (p's spawner, while
// p's start function runs on the spawner's turn). It returns what unblock
// must undo. Precondition: called by p's owner, holding no lock.
func (p *Process) block() (marked [2]*Process) {
	marked[0] = p.blockOne()
	if w := p.turnWorker; w != nil && w.cur != nil && w.cur != p {
		marked[1] = w.cur.blockOne()
	}
	return marked
}

// blockOne marks q blocked if it is a reactor whose turn is running,
// releases the senders parked on it, and returns it, or nil if it did not
// mark it.
func (q *Process) blockOne() *Process {
	if !q.reactor {
		return nil
	}
	q.mu.Lock()
	ok := q.mbox.sched == schedRunning
	var waiters bool
	if ok {
		q.mbox.sched = schedBlocked
		if waiters = q.mbox.space != nil; waiters {
			close(q.mbox.space)
			q.mbox.space, q.mbox.deferred = nil, false
		}
	}
	q.mu.Unlock()
	if !ok {
		return nil
	}
	if waiters {
		q.k.sched.release(q, nil)
	}
	return q
}

// unblock undoes block when the wait ends. Precondition: called by the
// owner, holding no lock.
func unblock(marked [2]*Process) {
	for _, q := range marked {
		if q == nil {
			continue
		}
		q.mu.Lock()
		if q.mbox.sched == schedBlocked {
			q.mbox.sched = schedRunning
		}
		q.mu.Unlock()
	}
}

// forget drops p's entries from the parking list: p was unparked by a
// kill, and its entries would otherwise stay until its receiver drained.
func (s *scheduler) forget(p *Process) {
	if s.parking.n.Load() == 0 {
		return
	}
	s.parking.remove(func(e parked) bool { return e.p == p }, nil)
}

// remove takes the entries drop selects out of the list, and returns
// their reactors appended to out.
func (pk *parking) remove(drop func(parked) bool, out []*Process) []*Process {
	pk.mu.Lock()
	kept := pk.list[:0]
	for _, e := range pk.list {
		if drop(e) {
			out = append(out, e.p)
		} else {
			kept = append(kept, e)
		}
	}
	clear(pk.list[len(kept):])
	pk.list = kept
	pk.n.Store(int32(len(kept)))
	pk.mu.Unlock()
	return out
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

// expectParker is congested for a sender about to park behind p: it
// also makes sure p's mailbox has senders waiting for room (space), so
// that p's next drain below half, or its stop, lets them go (noteWoke).
func (p *Process) expectParker() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.congestedLocked() {
		return false
	}
	if p.mbox.space == nil {
		p.mbox.space = make(chan struct{})
	}
	return true
}

// noteWoke records that p, whose run is in progress, let the senders
// waiting for room in its mailbox go. Precondition: p.mu is held, by the
// owner.
func (p *Process) noteWoke() {
	if w := p.turnWorker; w != nil && w.cur == p {
		w.woke = true
	}
}

// releaseWoken releases the reactors parked on p if p's run on w let its
// waiting senders go since the last look: on onto's local queue, or the
// global queue if onto is nil. It reads only w, never p's fields: at the
// end of a run, another worker may already own p.
// Precondition: called by w's goroutine, holding no lock.
func (w *worker) releaseWoken(p *Process, onto *worker) {
	if w.woke && w.cur == p {
		w.woke = false
		p.k.sched.release(p, onto)
	}
}

// parkBehind parks p, whose run on w has just ended with work queued for
// it (p is schedQueued, in no queue), if the receiver its run fed is
// congested. It reports whether it did; if not, the caller queues p.
// Precondition: called by w's goroutine; the caller holds no lock.
func (p *Process) parkBehind(w *worker) bool {
	on := w.fed
	w.fed = nil
	if on == nil || !on.expectParker() {
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
	out := s.parking.remove(func(e parked) bool { return on == nil || e.on == on }, buf[:0])
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
		if len(ons) == 0 || ons[len(ons)-1] != e.on { // one look per receiver, mostly
			ons = append(ons, e.on)
		}
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
