package kernel

import (
	"context"
	"time"
)

// waiter is whoever blocks in a kernel operation: a process, which a kill
// must interrupt and whose worker must hand off its queue if it is a
// reactor in a turn; or the Go host, bounded by a context.
type waiter interface {
	Waiter
	// wait blocks until ch is closed or receives, or timeout passes
	// (negative: never), returning ErrTimeout for the latter.
	wait(ch <-chan struct{}, timeout time.Duration) error
	// worker is the worker the waiter runs on, for runnext; nil if none.
	worker() *worker
}

// worker is nil for a detached turn: its worker's goroutine is the turn
// itself, and a reactor it made runnext would wait for the turn to end,
// or for ever if the turn then waits on that reactor.
func (p *Process) worker() *worker {
	if p.detached {
		return nil
	}
	return p.turnWorker
}

// waitHold is what beginWait took from others for a wait, for end to
// give back.
type waitHold struct {
	p      *Process
	marked [2]*Process // the reactors block marked
	w      *worker     // the worker p's turn handed off, or nil if p waited politely
}

// beginWait readies p for a wait: it marks the reactors the wait holds up
// blocked and lets those parked on them go (block), commits what p's run
// has in hand (flush), and gives up p's worker, or its polite share of
// the cores, for the wait's length. The caller defers end.
// Precondition: called by p's owner, holding no lock.
func (p *Process) beginWait() waitHold {
	h := waitHold{p: p, marked: p.block()}
	p.flush()
	if w := p.turnWorker; w != nil && !p.detached {
		w.blocking()
		h.w = w
	} else {
		p.k.polite.Wait()
	}
	return h
}

// end undoes beginWait, in the reverse order.
func (h waitHold) end() {
	if h.w != nil {
		h.w.unblocked()
	} else {
		h.p.k.polite.Run()
	}
	unblock(h.marked)
}

// wait blocks p. A kill ends the wait by abandoning the host call, so the
// process unwinds out of wasm and finishes as killed.
func (p *Process) wait(ch <-chan struct{}, timeout time.Duration) error {
	p.noteFuel()
	defer p.beginWait().end()
	var timer <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ch:
	case <-timer:
		p.checkKilled()
		p.checkSpawner()
		return ErrTimeout
	case <-p.killCh.get():
	case <-p.spawnerKill(): // nil, and so never ready, but in a start function
	}
	// A kill wins over whatever else became ready at the same time: a
	// process killed by a link must not go on to handle the message that
	// arrived with it.
	p.checkKilled()
	p.checkSpawner()
	return nil
}

// hostWaiter is the Go host blocking in Send or Call.
type hostWaiter struct{ ctx context.Context }

func (h hostWaiter) worker() *worker { return nil }

func (h hostWaiter) wait(ch <-chan struct{}, timeout time.Duration) error {
	var timer <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ch:
		return nil
	case <-timer:
		return ErrTimeout
	case <-h.ctx.Done():
		return h.ctx.Err()
	}
}
