package kernel

import (
	"errors"
	"fmt"
	"math"
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
	schedParked               // waiting, in no queue, for the receiver it fed to drain (congestion.go)
	schedBlocked              // running a turn that waits (recv, call, room): nobody should wait for it to drain
)

// mailbox is a process's bounded queue of messages. Everything in it is
// guarded by mu, including the reactor scheduling state, so that a sender
// appending a message and a worker finishing a turn agree on whether the
// process must be queued again.
type mailbox struct {
	q       []*Message // q[head:] are the queued messages, oldest first
	head    int
	bytes   int   // payload bytes queued
	acct    int64 // bytes the queued messages cost the account (messageSize)
	charged int64 // bytes charged to the account beyond MailboxAllowance
	// reserved is payload bytes promised to messages the host is still
	// receiving (Reservation); they count against MailboxBytes.
	reserved int64
	// The counts below are 32-bit, packed with the flags, to keep the
	// Process in its size class (TestProcessFitsItsSizeClass).
	limit   int32 // messages (see limitOf)
	signals int32 // exit and down signals queued
	// inHand counts the messages a reactor's run took out of q in a batch
	// and has not yet committed (see batch.go): they still count against
	// the bound, their bytes against bytes, their cost against acct.
	inHand  int32
	closed  bool
	sched   uint8
	waiting bool // the owner is blocked in receive
	// deferred is set, by the owner, when a commit left senders waiting
	// for room because the reactor was still draining (see commit).
	deferred bool
	// hand is the batch of the run in progress; only the owner touches it.
	hand  *batch
	wake  chan struct{} // cap 1: a message arrived while waiting
	space chan struct{} // closed when room appears; nil when nobody waits
	// taken counts the messages the owner took; sent is the owner's
	// Process.sent as of then, published here for Kernel.Sample.
	taken, sent uint64
}

// len is the messages queued, with those a run has in hand.
func (mb *mailbox) len() int { return len(mb.q) - mb.head + int(mb.inHand) }

// limitOf is the bound of a mailbox asked to hold n messages: n, or
// DefaultMailbox for zero or less. A bound past 32 bits is cut to it, which
// no mailbox can reach: MailboxBytes and the memory account, which every
// message is charged to, stop it first.
func limitOf(n int) int32 {
	if n <= 0 {
		return DefaultMailbox
	}
	return int32(min(n, math.MaxInt32))
}

// MailboxBytes bounds the payload bytes waiting in one mailbox, so that
// the bound holds in memory as well as in messages: 1,024 messages of the
// largest size would otherwise be a gigabyte. A message arriving at an
// empty mailbox is always taken, whatever its size.
const MailboxBytes = 16 << 20

// full reports whether a message of n bytes, which holds held bytes of the
// reservation, must wait for room.
func (mb *mailbox) full(n int, held int64) bool {
	others := mb.reserved - held
	return mb.len() >= int(mb.limit) || ((mb.len() > 0 || others > 0) && int64(mb.bytes)+others+int64(n) > MailboxBytes)
}

func (mb *mailbox) append(m *Message) {
	mb.bytes += len(m.Data)
	mb.q = append(mb.q, m)
}

// take removes the first message whose tag&mask == match.
func (mb *mailbox) take(match, mask uint32) *Message {
	for i := mb.head; i < len(mb.q); i++ {
		if m := mb.q[i]; m.Tag&mask == match {
			mb.removeAt(i)
			return m
		}
	}
	return nil
}

// removeAt takes out the message at q[i] and wakes senders waiting for
// room. The process must then give back its cost (unadmit).
func (mb *mailbox) removeAt(i int) {
	m := mb.q[i]
	mb.bytes -= len(m.Data)
	if m.Tag == TagExit || m.Tag == TagDown {
		mb.signals--
	}
	if i == mb.head {
		mb.q[i] = nil
		mb.advance(1)
	} else {
		copy(mb.q[i:], mb.q[i+1:])
		mb.q[len(mb.q)-1] = nil
		mb.q = mb.q[:len(mb.q)-1]
	}
	if mb.space != nil {
		close(mb.space)
		mb.space = nil
	}
}

// advance drops the first k queued messages, which the caller has taken
// or cleared, compacting q once most of it is behind head.
func (mb *mailbox) advance(k int) {
	mb.head += k
	if mb.head == len(mb.q) {
		mb.q, mb.head = mb.q[:0], 0
	} else if mb.head > 64 && mb.head > len(mb.q)/2 {
		n := copy(mb.q, mb.q[mb.head:])
		clear(mb.q[n:])
		mb.q, mb.head = mb.q[:n], 0
	}
}

// admit charges p's account for a message of n bytes (messageSize) about
// to be queued, past the allowance, in whole steps. It returns nil, or the
// group whose limit the charge would pass. With force the charge cannot
// fail. Precondition: p.mu is held.
func (p *Process) admit(n int64, force bool) (full *Group) {
	mb := &p.mbox
	if over := mb.acct + n - MailboxAllowance - mb.charged; over > 0 {
		step := (over + mailboxStep - 1) / mailboxStep * mailboxStep
		if force {
			p.forceChargeMem(step)
		} else if full = p.chargeMem(step); full != nil {
			return full
		}
		mb.charged += step
	}
	mb.acct += n
	return nil
}

// unadmit gives back the cost of a message of n bytes that left the
// mailbox, keeping up to one step charged so that a mailbox hovering at a
// step boundary does not charge and uncharge on every message.
// Precondition: p.mu is held.
func (p *Process) unadmit(n int64) {
	mb := &p.mbox
	mb.acct -= n
	want := (max(mb.acct-MailboxAllowance, 0) + mailboxStep - 1) / mailboxStep * mailboxStep
	if mb.charged > want+mailboxStep {
		p.unchargeMem(mb.charged - want)
		mb.charged = want
	}
}

// takeMessage takes the first matching message and gives back its cost:
// from the batch a reactor's run has in hand first, as those are older.
// Precondition: p.mu is held, by the owner.
func (p *Process) takeMessage(match, mask uint32) *Message {
	if b := p.mbox.hand; b != nil {
		if m := b.take(match, mask); m != nil {
			p.commit(true)
			return m
		}
		p.commit(true)
	}
	had := p.mbox.space != nil
	m := p.mbox.take(match, mask)
	if had && p.mbox.space == nil {
		p.noteWoke()
	}
	if m != nil {
		p.unadmit(messageSize(m))
		p.mbox.taken++
	}
	p.mbox.sent = p.sent
	return m
}

// drain empties the mailbox, with the batch a run has in hand, and closes
// it. Precondition: called by the owner.
func (mb *mailbox) drain() []*Message {
	out := mb.q[mb.head:]
	if b := mb.hand; b != nil {
		mb.taken += uint64(b.done) // handled, if not committed
		out = append(b.rest(), out...)
		mb.hand = nil
	}
	mb.q, mb.head, mb.closed, mb.bytes, mb.signals, mb.inHand = nil, 0, true, 0, 0, 0
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
	// sendSignal ignores the mailbox's bound but not the account: the
	// noproc signal a process asks for by linking to or monitoring a dead
	// one.
	sendSignal
)

// enqueue appends m to p's mailbox, making p runnable if it is an idle
// reactor. w is the sender, who waits when the mailbox is full; when p's
// tree cannot hold the message, it fails with ErrLimit.
func (p *Process) enqueue(m *Message, mode sendMode, w waiter) error {
	if h := m.hold; h != nil && h.p != p {
		// Room held elsewhere (a service's queue, or an instance that
		// has ended) is no room here: give it back, and ask p for its own.
		m.hold = nil
		h.Release()
	}
	size := messageSize(m)
	for {
		p.mu.Lock()
		mb := &p.mbox
		if mb.closed {
			p.mu.Unlock()
			return ErrGone
		}
		var held int64
		if m.hold != nil {
			held = m.hold.n
		}
		if (mode == sendBlock || mode == sendNonBlock) && mb.full(len(m.Data), held) {
			if mb.space == nil {
				mb.space = make(chan struct{})
			}
			space := mb.space
			p.mu.Unlock()
			if mode == sendNonBlock {
				return ErrFull
			}
			if err := w.wait(space, -1); err != nil {
				return err
			}
			continue
		}
		// A tree at its memory limit may never free anything, so a send
		// it cannot hold fails at once rather than wait: within one tree,
		// waiting could wait for ever.
		if full := p.admit(size, mode == sendForce); full != nil {
			p.mu.Unlock()
			return fmt.Errorf("%w: %s", ErrLimit, full.describeFull(size))
		}
		mb.append(m)
		if m.Tag == TagExit || m.Tag == TagDown {
			mb.signals++
		}
		if m.hold != nil {
			m.hold.releaseLocked()
			m.hold = nil
		}
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
		var from *worker
		if w != nil {
			if from = w.worker(); from != nil {
				from.noteFed(w, p, mode)
			}
		}
		// A second message from the same turn leaves p in runnext: it
		// runs on the sender's worker after the sender's run, with the
		// messages still in that core's cache. (Moving it to the local
		// queue, for another worker to take meanwhile, made every
		// message cross between cores, at twice the cost of the
		// parallelism it bought.) A turn that waits, or runs long, hands
		// runnext to another worker (blocking, detach), and a detached
		// turn has no worker to make runnable on (Process.worker).
		if schedule {
			p.k.sched.ready(p, from)
		}
		return nil
	}
}

// A Reservation holds room in a process's mailbox, and in its memory
// account, for a message the host is still receiving, such as an HTTP
// request body arriving from a client: the bytes count from the moment
// they are promised, not from when the message is queued, so that many
// slow uploads cannot hold more than one mailbox's worth of memory.
type Reservation struct {
	p *Process // whose mailbox holds the room; nil for a service's
	s *Service // or the service whose waiting queue does, between instances
	n int64
}

// Reserve promises n payload bytes of p's mailbox and n bytes of its
// memory account to a message the host will send with Message.Hold. It
// fails with ErrFull when the mailbox cannot take them now, with ErrLimit
// past the memory limit, and with ErrGone when p has ended. Safe from any
// goroutine.
func (p *Process) Reserve(n int64) (*Reservation, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	mb := &p.mbox
	switch {
	case mb.closed:
		return nil, ErrGone
	case mb.full(int(n), 0):
		return nil, ErrFull
	}
	if full := p.chargeMem(n); full != nil {
		return nil, fmt.Errorf("%w: %s", ErrLimit, full.describeFull(n))
	}
	mb.reserved += n
	return &Reservation{p: p, n: n}, nil
}

// Release gives the room back. It does nothing once the reservation's
// message is queued or it was released.
func (r *Reservation) Release() {
	if r.s != nil {
		r.s.mu.Lock()
		r.s.releaseLocked(r)
		r.s.mu.Unlock()
		return
	}
	r.p.mu.Lock()
	r.releaseLocked()
	r.p.mu.Unlock()
}

// releaseLocked releases r. Precondition: r.p.mu is held.
func (r *Reservation) releaseLocked() {
	if r.n == 0 {
		return
	}
	r.p.mbox.reserved -= r.n
	r.p.unchargeMem(r.n)
	r.n = 0
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
		if m := p.takeMessage(match, mask); m != nil {
			p.mu.Unlock()
			return m, nil
		}
		if timeout == 0 {
			p.mu.Unlock()
			return nil, ErrTimeout
		}
		p.mbox.waiting = true
		if p.mbox.wake == nil {
			// Made by the first wait, under mu as a waker reads it: a
			// reactor that never blocks in receive needs none.
			p.mbox.wake = make(chan struct{}, 1)
		}
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
			m := p.takeMessage(match, mask)
			p.mu.Unlock()
			if m != nil {
				return m, nil
			}
			return nil, err
		}
	}
}
