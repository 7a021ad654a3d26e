package kernel

import (
	"context"
	"log/slog"
	"time"

	isleapi "github.com/isle-run/isle/api"
)

// abort ends a process whose spawn failed before it could run: its grants
// did not fit, or its start function trapped, ran out of fuel or was
// killed. It is an end like any other (see end), since the process existed
// and others may know of it: Kernel.Close waits for it, and its start
// function may have sent its own handle, linked or called. Only what the
// spawner keeps, as it gets the error, is not let go: the init message
// still queued is dropped with what it carries unreleased, and the spec's
// OnExit does not run.
func (p *Process) abort(exit isleapi.Exit) { p.end(exit, true) }

// exitNormal is the exit of most processes, shared by all of them so that
// a process record holds a pointer, not an Exit, while it runs. Nothing
// writes through it.
var exitNormal = isleapi.Exit{Kind: isleapi.ExitNormal}

// pexit returns a pointer to e for a process record.
func pexit(e isleapi.Exit) *isleapi.Exit {
	if e == exitNormal {
		return &exitNormal
	}
	return &e
}

// finish ends the process once it has run. It runs on the process's own
// goroutine or on the worker that ran its last turn.
func (p *Process) finish(exit isleapi.Exit) { p.end(exit, false) }

// end tears down the mailbox, the handle table and the instance, tells
// links and monitors, and publishes the exit: once for every process,
// through finish or abort, on its owner.
func (p *Process) end(exit isleapi.Exit, aborted bool) {
	p.charge()
	p.closeWASI()
	p.signalling.Lock()
	p.mu.Lock()
	p.dead = true
	hadWaiters := p.mbox.space != nil
	pending := p.mbox.drain()
	links, monitors := p.links, p.monitors.take()
	p.links = nil
	p.mu.Unlock()
	if hadWaiters {
		p.k.sched.release(p, nil) // nothing drains p any more
	}
	if aborted && len(pending) > 0 && pending[0].Tag == TagInit {
		pending[0].DropRefs() // the spawner still holds its handles
		pending = pending[1:]
	}
	if s := p.service(); s != nil {
		s.detach(p, pending) // the next instance gets what this one never took
	} else {
		for _, m := range pending {
			m.release()
			m.recycle()
		}
	}
	failure := ""
	if !exit.Normal() {
		p.noteCrash(p.current)
		failure = exit.String()
	}
	p.endSpan(failure)
	p.setCurrent(nil)
	if p.pending != nil {
		p.pending.abandon()
		if m := p.pending.result(); m != nil {
			m.release() // an answer that came as the call was cut short
		}
	}
	p.handles.releaseAll()
	for _, w := range p.watching {
		w.cancel()
	}
	// A Process outlives its end in whoever holds its handle, and its
	// account is closed: what it held must go now, or a holder keeps it
	// uncharged.
	p.watching = nil
	if p.inst != nil {
		p.unbind()
		_ = p.inst.Close(context.Background())
		// A Process outlives its end in whoever holds it: what the instance
		// reaches (its compiled code among it) must not.
		p.inst, p.fuel.counter, p.callStack.global = nil, nil, nil
	}
	// What only its owner reads goes too: its grants' names and its WASI
	// state (closed above), 470 bytes of a corpse's 1.9 KiB.
	p.grants, p.wasi = nil, nil
	p.alloc.Release() // the memory a dormant reactor kept
	p.closeMem()
	p.exit = pexit(exit)
	p.ended.Store(time.Now().UnixNano())
	p.group.leave(p)
	if p.parent == nil && endsTree(exit) {
		p.group.Kill("its tree's root was " + exit.String())
	}
	if x := p.extra; x != nil && x.onExit != nil && !aborted {
		x.onExit()
	}
	p.k.unregister(p)
	if p.k.onExit != nil {
		p.k.onExit(p, exit) // before anyone learns of the exit, so tools agree
	}
	// Publish the exit before telling anyone: a process that receives the
	// exit or down signal must find this one ended.
	p.done.close()
	for l := range links {
		l.linkedExit(p, exit)
	}
	p.signalling.Unlock()
	downAll(monitors, exit)
	if p.k.log.Enabled(context.Background(), slog.LevelDebug) {
		p.k.log.Debug("process exited", "pid", p.ID, "module", p.mod.Name, "exit", exit.String())
	}
}

// noteCrash records m as the message the process was handling when it
// ended abnormally.
func (p *Process) noteCrash(m *Message) {
	if m != nil && p.crash == nil {
		p.crash = &crashNote{tag: uint64(m.Tag), trace: m.Trace, traceHi: m.TraceHi, chain: m.hops}
	}
}

// Crash returns the tag and causality id of the message the process was
// handling when it ended abnormally; ok is false if it handled none then,
// or has not ended.
//
// Safe from any goroutine.
func (p *Process) Crash() (tag uint32, trace uint64, ok bool) {
	if !p.Ended() || p.crash == nil {
		return 0, 0, false
	}
	return uint32(p.crash.tag), p.crash.trace, true
}

// endsTree reports whether a root that ended so takes its tree with it:
// when it was killed (by Kill, its timeout or its context) or spent its
// tree's budget, so that no descendant outlives the limits that ended it.
func endsTree(e isleapi.Exit) bool {
	if e.Kind == isleapi.ExitKilled {
		return true
	}
	if e.Kind != isleapi.ExitAbandoned || e.Abandon == nil {
		return false
	}
	switch e.Abandon.Cause {
	case isleapi.CauseFuelExhausted:
		return true
	}
	return false
}
