package kernel

import (
	"time"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
)

// Reactor exports.
const (
	handlerExport    = "isle_handle"
	initializeExport = "_initialize"
)

// runTurns runs a queued reactor's turns on worker w, then puts it back to
// idle, or at the back of w's queue if more work is waiting. A run takes
// its messages in batches of up to turnBatch (batch.go), so that it costs
// two locks however many messages it handles: one to take a batch and one
// to commit it and take the next or decide the reactor's state. It goes on
// to another batch while messages are queued, for at most runSlice when
// other reactors wait for w (see more).
//
// turnWorker is cleared before the lock that ends the run is released:
// after that, another worker may already own the process.
func (p *Process) runTurns(w *worker) {
	p.turnWorker = w
	w.fed, w.cur, w.woke = nil, p, false
	defer func() { w.cur = nil }()
	if !p.initialized && p.killReason.Load() == nil && p.initialize() {
		return
	}
	p.mu.Lock()
	if p.dead {
		p.endTurn()
		p.mu.Unlock()
		return
	}
	p.mbox.sched = schedRunning
	p.turned = true // keeps its instance through the next sweep (sweep.go)
	b := &w.batch
	p.mbox.hand = b
	var until time.Duration // when the run must yield to others; 0: not yet set
	before := w.runnext
	for {
		p.fill(b)
		p.mu.Unlock()
		w.releaseWoken(p, w)
		if until == 0 && b.n == turnBatch {
			// A run that may go on: its slice starts now, so that a batch
			// of long turns does not leave it another one.
			until = time.Since(p.k.epoch) + runSlice
		}
		if p.handleBatch(b) {
			return
		}
		p.mu.Lock()
		if !p.more(w, before, &until) || p.feedsCongested(w) {
			break
		}
		p.commit(false)
	}
	// What arrived during the run, or a kill that landed while it ran:
	// landKill saw it running and left the reactor to us.
	requeue := len(p.mbox.q) > p.mbox.head || p.killReason.Load() != nil
	p.commit(!requeue)
	p.mbox.hand = nil
	if requeue {
		p.mbox.sched = schedQueued
	} else {
		p.mbox.sched = schedIdle
	}
	p.endTurn()
	p.mu.Unlock()
	w.releaseWoken(p, w)
	if requeue && !p.parkBehind(w) {
		w.pushLocal(p)
	}
}

// runSlice bounds how long a reactor's run goes on taking batches while
// other reactors wait for its worker. A receiver fed by many senders thus
// drains its mailbox in runs of this length rather than of one batch, as
// BEAM gives a process a slice of reductions: otherwise every sender's
// run would fill its mailbox faster than its short runs empty it, and
// the senders would spend their time blocked on it.
const runSlice = 100 * time.Microsecond

// more reports whether the run goes on with another batch: only if
// messages are queued, the run has not made another reactor its worker's
// runnext (before is runnext as the run began), and, when other reactors
// wait for w, until the run has lasted runSlice since its first full
// batch (or its first decision, if that batch was short).
//
// A run that fed another reactor yields to it, in the spirit of Go's
// runnext, where a goroutine readied by another runs next on its P: a
// sender that loops by sending itself a message would otherwise go on
// for a whole slice, fill its receiver's mailbox and wait on it, and its
// waiting hands the receiver to another worker. Precondition: p.mu is
// held.
func (p *Process) more(w *worker, before *Process, until *time.Duration) bool {
	if len(p.mbox.q) == p.mbox.head || p.killReason.Load() != nil {
		return false
	}
	if w.runnext != nil && w.runnext != before {
		return false
	}
	if !w.waiting() {
		return true
	}
	now := time.Since(p.k.epoch)
	if *until == 0 {
		*until = now + runSlice
	}
	return now < *until
}

// handleBatch runs a turn for each message of b. It reports whether the
// process ended.
func (p *Process) handleBatch(b *batch) bool {
	for {
		if r := p.killReason.Load(); r != nil {
			p.endTurn()
			p.finish(isleapi.Exit{Kind: isleapi.ExitKilled, Killed: *r})
			return true
		}
		m := b.next()
		if m == nil {
			return false
		}
		if p.slot == 0 && !p.ready(m) {
			return true
		}
		if p.turn(m) {
			return true
		}
	}
}

// ready gives the reactor its instance if it is dormant, and its handler a
// dispatch slot, before it handles m: at its first turn, and again after
// it slept (sweep.go). It reports false if the process ended because it
// could not have them.
func (p *Process) ready(m *Message) bool {
	var err error
	if p.dormant != nil {
		err = p.wake()
	}
	if err == nil {
		p.slot, err = p.k.dispatch.bind(p.inst)
	}
	if err != nil {
		p.noteCrash(m)
		m.release()
		m.recycle()
		p.endTurn()
		p.finish(p.classify(err))
		return false
	}
	p.k.sweeper.add(p)
	p.alloc.Run()
	return true
}

// unbind frees the reactor's dispatch slot, if it holds one. Precondition:
// called by p's owner, or under p.mu while p is idle, before its instance
// is closed.
func (p *Process) unbind() {
	if p.slot != 0 {
		p.k.dispatch.unbind(p.slot)
		p.slot = 0
	}
}

// detachSlices is how many fuel slices a turn may run, while other
// reactors wait for a worker, before it gives its worker up to them and
// goes on as a goroutine of its own: about a millisecond of compiled C, a
// tenth of that of Go. A turn that never ends then holds a thread, as a
// spinning command does, but never the workers other reactors need.
const detachSlices = 16

// endTurn ends the current turn's hold on its worker. Precondition: called
// by the turn's goroutine, as the turn ends.
func (p *Process) endTurn() {
	if p.detached {
		p.turnWorker.reattach()
		p.detached = false
	}
	p.turnWorker = nil
	p.turnSlices = 0
}

// maybeDetach is called at every fuel yield: a long turn, with others
// waiting, gives its worker up.
func (p *Process) maybeDetach() {
	w := p.turnWorker
	if w == nil || p.detached {
		return
	}
	w.maybeWake()
	if p.turnSlices++; p.turnSlices >= detachSlices && w.waiting() {
		w.detach()
		p.detached = true
	}
}

// initialize runs _initialize as the reactor's first turn. It reports
// whether the process ended.
func (p *Process) initialize() bool {
	p.initialized = true
	err := p.grantSlice()
	if err == nil {
		p.alloc.Run()
		_, err = p.inst.ExportedFunction(initializeExport).Call(p.callCtx())
	}
	if err != nil {
		p.endTurn()
		p.finish(p.classify(err))
		return true
	}
	return false
}

// turn delivers one message and calls the handler. It reports whether the
// process ended.
func (p *Process) turn(m *Message) bool {
	aux := p.deliver(m)
	if p.k.tracer != nil {
		p.beginSpan(SpanTurn, m)
	}
	if p.inboxCap > 0 && len(m.Data) > 0 {
		n := min(uint32(len(m.Data)), p.inboxCap)
		p.inst.Memory().Write(p.inbox, m.Data[:n])
	}
	w := p.turnWorker
	w.args = [5]uint64{p.k.dispatch.indexOf(p.slot), uint64(uint32(len(m.Data))), uint64(m.Tag), uint64(aux), uint64(uint32(len(p.curHandles)))}
	// A turn goes on with what is left of the slice the last one had: a
	// grant per turn charged and refilled the counter at every message,
	// a fifth of a short turn's cost. The next yield settles both.
	var err error
	if p.fuel.granted == 0 {
		err = p.grantSlice()
	}
	if err == nil {
		err = p.callHandler(w)
	}
	if err != nil {
		p.noteCrash(m)
	}
	if err == nil && p.span != nil && p.span.s != nil {
		p.endSpan("") // a failed turn's span ends in finish, with the exit
	}
	p.setCurrent(nil)
	if err != nil {
		p.endTurn()
		p.finish(p.classify(err))
		return true
	}
	return false
}

// callHandler runs the reactor's handler with w.args: through w's
// dispatch engine, or through its own if its stack outgrew them
// (dispatch.go). Precondition: called by w's goroutine, in p's turn.
func (p *Process) callHandler(w *worker) error {
	d, slot := &p.k.dispatch, p.slot // the turn may end the process, which frees the slot
	if deep(p) {
		return d.ownFunc(p.inst, slot).CallWithStack(p.callCtx(), w.args[1:])
	}
	err := w.dispatchFunc(d, slot).CallWithStack(p.callCtx(), w.args[:])
	w.settleEngine(d, p, slot)
	return err
}

// deliver makes m the current message: its capabilities enter the handle
// table, and the aux word is computed in this process's numbering.
func (p *Process) deliver(m *Message) (aux uint32) {
	p.curHandles = p.curHandles[:0]
	for _, c := range m.Caps {
		h, err := p.handles.Insert(c)
		if err != nil {
			// A full table cannot take the right; release it rather than
			// abandon the receiver for what a sender did.
			c.release()
			continue
		}
		p.curHandles = append(p.curHandles, h)
	}
	m.Caps = m.Caps[:0]
	switch {
	case m.reply != nil:
		h, err := p.handles.Insert(Cap{Kind: capkind.Reply, Object: m.reply})
		if err != nil {
			m.reply.abandon()
		} else {
			aux = uint32(h)
		}
		m.reply = nil
	case m.Tag == TagExit && m.from != nil:
		aux = uint32(p.handles.Find(capkind.Process, m.from))
		m.from = nil
	case m.Tag == TagDown:
		aux = m.ref
		delete(p.watching, m.ref)
	}
	p.setCurrent(m)
	return aux
}

// setCurrent replaces the current message, recycling the old one: nothing
// refers to a message once its process has moved on from it.
func (p *Process) setCurrent(m *Message) {
	if old := p.current; old != nil {
		p.unchargeMem(currentCost(old))
		if old != m {
			if w := p.turnWorker; w != nil {
				old.reset()
				w.freeMessage(old)
			} else {
				old.recycle()
			}
		}
	}
	p.current = m
	if m != nil {
		p.forceChargeMem(currentCost(m))
	}
}

// currentFree is the part of a current message its process is not charged
// for: within what ProcessOverhead covers, so that the small messages of
// a hot path charge nothing.
const currentFree = 1 << 10

// currentCost is what a process is charged for m while it is its current
// message (setCurrent): a message taken from the mailbox gives back its
// queued cost, but a command holds it as its current message until its
// next receive, and a call's answer or an HTTP response comes straight
// in. Before, 301 commands each holding a 1 MiB message they never read
// held 304 MiB for a tree charged 23 MiB (found in review). The charge
// cannot be refused, as the message is here already: its bytes were the
// mailbox's, or the host's (reserved, as for an HTTP response), a moment
// before. It is computed from m rather than kept, to keep the Process in
// its size class; m's payload does not change while it is current.
func currentCost(m *Message) int64 { return max(int64(len(m.Data))-currentFree, 0) }
