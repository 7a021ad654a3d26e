package kernel

import (
	"context"
	"time"
)

// KillContext returns a context that is done once p is killed. Host
// functions that wait on something outside the kernel (a network request)
// pass it down, so that a kill interrupts them as it interrupts recv.
// It carries no values and no deadline.
//
// Safe from any goroutine.
func (p *Process) KillContext() context.Context { return killContext{p} }

type killContext struct{ p *Process }

// Deadline implements context.Context: there is none.
func (killContext) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context: closed by the kill.
func (c killContext) Done() <-chan struct{} { return c.p.killCh.get() }

// Value implements context.Context: it carries none.
func (killContext) Value(any) any { return nil }

// Err implements context.Context.
func (c killContext) Err() error {
	if c.p.killCh.closed() {
		return context.Canceled
	}
	return nil
}

// Blocking runs f, a host operation that may wait for a long time outside
// the kernel. If p is a reactor in a turn, its worker first hands its
// queued work to a spare worker, as it does when a turn blocks in recv,
// so other reactors are not held up behind the wait.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) Blocking(f func()) {
	defer p.beginWait().end() // nobody parks behind a host call that waits
	f()
}
