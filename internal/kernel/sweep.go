package kernel

import (
	"cmp"
	"sync"
	"time"
)

// A reactor that has gone a whole sweep period without a turn is put to
// sleep (dormant.go): its instance is closed, and only its memory and
// globals are kept. Its handler holds no call engine of its own in any
// case: turns run on their worker's (dispatch.go).

// sweepPeriod is the sweep period: a reactor keeps its instance between 1
// and 2 periods after its last turn. A 10,000-process ring goes round in
// tens of milliseconds, so a busy node never makes an instance again.
const sweepPeriod = time.Second

// idleSweeper lists the reactors that have an instance and puts to
// sleep those that went a whole period without a turn.
type idleSweeper struct {
	mu      sync.Mutex
	held    []*Process // reactors that may hold an engine
	timer   *time.Timer
	armed   bool          // a sweep is due
	stopped bool          // the kernel is closed: no more sweeps
	period  time.Duration // sweepPeriod if zero; tests shorten it
}

// add lists p, which has just been given its instance and dispatch slot,
// and makes sure a sweep is due. Called by p's owner.
func (s *idleSweeper) add(p *Process) {
	s.mu.Lock()
	s.held = append(s.held, p)
	s.arm()
	s.mu.Unlock()
}

// arm schedules the next sweep, if none is due. Caller holds s.mu.
func (s *idleSweeper) arm() {
	if s.armed || s.stopped || len(s.held) == 0 {
		return
	}
	s.armed = true
	if s.timer == nil {
		s.timer = time.AfterFunc(cmp.Or(s.period, sweepPeriod), s.sweep)
		return
	}
	s.timer.Reset(cmp.Or(s.period, sweepPeriod))
}

// stop ends the sweeps: the kernel is closed, and every process has ended.
func (s *idleSweeper) stop() {
	s.mu.Lock()
	s.stopped = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.held = nil
	s.mu.Unlock()
}

// sweep puts to sleep every listed reactor that is idle and had no turn
// since the previous sweep, and forgets those that ended.
func (s *idleSweeper) sweep() {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	kept := held[:0]
	for _, p := range held {
		if p.keepListed() {
			kept = append(kept, p)
		}
	}
	clear(held[len(kept):]) // let released processes go
	s.mu.Lock()
	s.armed = false
	if !s.stopped {
		s.held = append(kept, s.held...) // reactors added during the sweep
	}
	s.arm()
	s.mu.Unlock()
}

// keepListed is the sweep's decision for one reactor: it reports whether
// p stays listed, as a reactor that may yet be put to sleep. A reactor
// idle since the previous sweep sleeps (dormant.go) if its module allows,
// and leaves the list either way: it is listed again at the turn that
// wakes it. The next owner takes p.mu to leave schedIdle, so putting it
// to sleep here under p.mu is safe.
func (p *Process) keepListed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.dead:
		return false
	case p.turned:
		p.turned = false
		return true
	case p.mbox.sched != schedIdle:
		return true // queued for a turn, or in one that is still running
	}
	return p.sleep() // its wake code is compiling: it stays listed, once
}
