package kernel

import (
	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
)

// Reactor exports.
const (
	handlerExport    = "isle_handle"
	initializeExport = "_initialize"
)

// runTurns runs up to turnBatch turns of a queued reactor on worker w, then
// puts it back to idle, or at the back of w's queue if more work is
// waiting. The run takes its messages in one batch (batch.go), so that it
// costs two locks however many messages it handles: one to take them and
// one to commit them and decide the reactor's state.
//
// turnWorker is cleared before the lock that ends the run is released:
// after that, another worker may already own the process.
func (p *Process) runTurns(w *worker) {
	p.turnWorker = w
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
	b := &w.batch
	p.mbox.hand = b
	p.fill(b)
	p.mu.Unlock()
	for {
		if r := p.killReason.Load(); r != nil {
			p.endTurn()
			p.finish(isleapi.Exit{Kind: isleapi.ExitKilled, Killed: *r})
			return
		}
		m := b.next()
		if m == nil {
			break
		}
		if p.handler == nil {
			// Found on first use: the call engine wazero makes for it
			// holds a 10 KiB stack that a never-messaged reactor need
			// not pay for.
			p.handler = p.inst.ExportedFunction(handlerExport)
			p.stack = make([]uint64, 4)
			p.alloc.Run()
		}
		if p.turn(m) {
			return
		}
	}
	p.mu.Lock()
	requeue := len(p.mbox.q) > p.mbox.head // what arrived during the run
	p.commit(!requeue)
	p.mbox.hand = nil
	p.noteFuel()
	if requeue {
		p.mbox.sched = schedQueued
	} else {
		p.mbox.sched = schedIdle
	}
	p.endTurn()
	p.mu.Unlock()
	if requeue {
		w.pushLocal(p)
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
		_, err = p.inst.ExportedFunction(initializeExport).Call(p.ctx)
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
	p.stack[0] = uint64(uint32(len(m.Data)))
	p.stack[1] = uint64(m.Tag)
	p.stack[2] = uint64(aux)
	p.stack[3] = uint64(uint32(len(p.curHandles)))
	// A turn goes on with what is left of the slice the last one had: a
	// grant per turn charged and refilled the counter at every message,
	// a fifth of a short turn's cost. The next yield settles both.
	var err error
	if p.fuel.granted == 0 {
		err = p.grantSlice()
	}
	if err == nil {
		err = p.handler.CallWithStack(p.ctx, p.stack)
	}
	if err != nil {
		p.noteCrash(m)
	}
	if err == nil && p.span.s != nil {
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
	if old := p.current; old != nil && old != m {
		if w := p.turnWorker; w != nil {
			old.reset()
			w.freeMessage(old)
		} else {
			old.recycle()
		}
	}
	p.current = m
}
