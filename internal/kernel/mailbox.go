package kernel

import (
	"errors"
	"time"
)

// Expected failures of message passing. The ABI maps each to its code.
var (
	ErrGone    = errors.New("peer gone")
	ErrFull    = errors.New("mailbox full")
	ErrTimeout = errors.New("timed out")
	ErrTooBig  = errors.New("message too big")
	ErrRights  = errors.New("handle lacks the right")
	ErrLimit   = errors.New("limit reached")
	ErrNoMatch = errors.New("not found")
	ErrIO      = errors.New("storage or network failure")
	ErrDenied  = errors.New("denied by the capability")
)

// Scheduling states of a reactor, guarded by its mailbox lock.
const (
	schedIdle    uint8 = iota // no turn pending: the reactor has no goroutine and is in no queue
	schedQueued               // in exactly one run queue
	schedRunning              // a worker is running its turns
)

// mailbox is a process's bounded queue of messages. Everything in it is
// guarded by mu, including the reactor scheduling state, so that a sender
// appending a message and a worker finishing a turn agree on whether the
// process must be queued again.
type mailbox struct {
	q       []*Message // q[head:] are the queued messages, oldest first
	head    int
	limit   int // messages
	bytes   int // payload bytes queued
	closed  bool
	sched   uint8
	waiting bool          // the owner is blocked in receive
	wake    chan struct{} // cap 1: a message arrived while waiting
	space   chan struct{} // closed when room appears; nil when nobody waits
}

func (mb *mailbox) len() int { return len(mb.q) - mb.head }

// MailboxBytes bounds the payload bytes waiting in one mailbox, so that
// the bound holds in memory as well as in messages: 1,024 messages of the
// largest size would otherwise be a gigabyte. A message arriving at an
// empty mailbox is always taken, whatever its size.
const MailboxBytes = 16 << 20

// full reports whether a message of n bytes must wait for room.
func (mb *mailbox) full(n int) bool {
	return mb.len() >= mb.limit || (mb.len() > 0 && mb.bytes+n > MailboxBytes)
}

func (mb *mailbox) append(m *Message) {
	mb.bytes += len(m.Data)
	mb.q = append(mb.q, m)
}

// take removes the first message whose tag&mask == match.
func (mb *mailbox) take(match, mask uint32) *Message {
	for i := mb.head; i < len(mb.q); i++ {
		m := mb.q[i]
		if m.Tag&mask != match {
			continue
		}
		mb.bytes -= len(m.Data)
		if i == mb.head {
			mb.q[i] = nil
			mb.head++
			if mb.head == len(mb.q) {
				mb.q, mb.head = mb.q[:0], 0
			} else if mb.head > 64 && mb.head > len(mb.q)/2 {
				n := copy(mb.q, mb.q[mb.head:])
				clear(mb.q[n:])
				mb.q, mb.head = mb.q[:n], 0
			}
		} else {
			copy(mb.q[i:], mb.q[i+1:])
			mb.q[len(mb.q)-1] = nil
			mb.q = mb.q[:len(mb.q)-1]
		}
		if mb.space != nil {
			close(mb.space)
			mb.space = nil
		}
		return m
	}
	return nil
}

// drain empties the mailbox and closes it.
func (mb *mailbox) drain() []*Message {
	out := mb.q[mb.head:]
	mb.q, mb.head, mb.closed, mb.bytes = nil, 0, true, 0
	if mb.space != nil {
		close(mb.space)
		mb.space = nil
	}
	return out
}

// sendMode says how a message is queued.
type sendMode uint8

const (
	sendBlock    sendMode = iota // wait for room
	sendNonBlock                 // ErrFull if there is no room
	sendForce                    // ignore the bound: exit signals and init
)

// enqueue appends m to p's mailbox, making p runnable if it is an idle
// reactor. w is the sender, who waits when the mailbox is full.
func (p *Process) enqueue(m *Message, mode sendMode, w waiter) error {
	for {
		p.mu.Lock()
		mb := &p.mbox
		if mb.closed {
			p.mu.Unlock()
			return ErrGone
		}
		if mode != sendForce && mb.full(len(m.Data)) {
			if mode == sendNonBlock {
				p.mu.Unlock()
				return ErrFull
			}
			if mb.space == nil {
				mb.space = make(chan struct{})
			}
			space := mb.space
			p.mu.Unlock()
			if err := w.wait(space, -1); err != nil {
				return err
			}
			continue
		}
		mb.append(m)
		wake := mb.waiting
		schedule := p.reactor && mb.sched == schedIdle
		if schedule {
			mb.sched = schedQueued
		}
		p.mu.Unlock()
		if wake {
			select {
			case mb.wake <- struct{}{}:
			default:
			}
		}
		if schedule {
			var from *worker
			if w != nil {
				from = w.worker()
			}
			p.k.sched.ready(p, from)
		}
		return nil
	}
}

// receive takes the first message matching match/mask, waiting up to
// timeout (negative: forever; zero: not at all).
func (p *Process) receive(match, mask uint32, timeout time.Duration) (*Message, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		p.checkKilled()
		p.mu.Lock()
		if m := p.mbox.take(match, mask); m != nil {
			p.mu.Unlock()
			return m, nil
		}
		if timeout == 0 {
			p.mu.Unlock()
			return nil, ErrTimeout
		}
		p.mbox.waiting = true
		p.mu.Unlock()
		remaining := time.Duration(-1)
		if timeout > 0 {
			if remaining = time.Until(deadline); remaining <= 0 {
				remaining = 0
			}
		}
		var err error
		if remaining != 0 {
			err = p.wait(p.mbox.wake, remaining)
		} else {
			err = ErrTimeout
		}
		p.mu.Lock()
		p.mbox.waiting = false
		p.mu.Unlock()
		if err != nil {
			// One last look: a message may have arrived with the timeout.
			p.mu.Lock()
			m := p.mbox.take(match, mask)
			p.mu.Unlock()
			if m != nil {
				return m, nil
			}
			return nil, err
		}
	}
}
