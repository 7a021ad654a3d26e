package kernel

import (
	"cmp"
	"sync"
	"time"
)

// A reactor calls its isle_handle through an api.Function, which in
// wazero's compiler is a call engine with its own 10 KiB Go stack (plus
// 1.5 KiB of engine) that lives as long as the function does. Getting a
// new one for every turn costs that allocation every message (several µs
// with the collections it brings on), so a reactor keeps its engine while
// it is busy; one that has had no turn for a whole sweep period gives it
// back, and holds no stack while it idles. Sharing one stack among all the
// reactors a worker runs needs wazero's help (docs/upstream/wazero.md).

// engineIdle is the sweep period: a reactor keeps its engine between 1
// and 2 periods after its last turn. A 10,000-process ring goes round in
// tens of milliseconds, so a busy node never rebuilds an engine.
const engineIdle = time.Second

// engineSweeper lists the reactors that hold a call engine and releases
// those that went a whole period without a turn.
type engineSweeper struct {
	mu      sync.Mutex
	held    []*Process // reactors that may hold an engine
	timer   *time.Timer
	armed   bool          // a sweep is due
	stopped bool          // the kernel is closed: no more sweeps
	period  time.Duration // engineIdle if zero; tests shorten it
}

// add lists p, which has just made its engine, and makes sure a sweep is
// due. Called by p's owner.
func (s *engineSweeper) add(p *Process) {
	s.mu.Lock()
	s.held = append(s.held, p)
	s.arm()
	s.mu.Unlock()
}

// arm schedules the next sweep, if none is due. Caller holds s.mu.
func (s *engineSweeper) arm() {
	if s.armed || s.stopped || len(s.held) == 0 {
		return
	}
	s.armed = true
	if s.timer == nil {
		s.timer = time.AfterFunc(cmp.Or(s.period, engineIdle), s.sweep)
		return
	}
	s.timer.Reset(cmp.Or(s.period, engineIdle))
}

// stop ends the sweeps: the kernel is closed, and every process has ended.
func (s *engineSweeper) stop() {
	s.mu.Lock()
	s.stopped = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.held = nil
	s.mu.Unlock()
}

// sweep releases the engine of every listed reactor that is idle and had
// no turn since the previous sweep, and forgets those that ended.
func (s *engineSweeper) sweep() {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	kept := held[:0]
	for _, p := range held {
		if p.keepEngine() {
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

// keepEngine is the sweep's decision for one reactor: it reports whether
// p still holds its engine. p.handler belongs to p's owner; an idle
// reactor has none, and the next owner takes p.mu to leave schedIdle, so
// clearing it here under p.mu is safe, and so is putting the reactor to
// sleep (dormant.go).
func (p *Process) keepEngine() bool {
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
	if p.sleep() {
		return true // its wake code is compiling: it keeps its engine, and stays listed once
	}
	p.handler = nil
	return false
}
