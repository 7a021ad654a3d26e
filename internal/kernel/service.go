package kernel

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	isleapi "github.com/isle-run/isle/api"
)

// Target is what a process handle names: a Process, or a Service that
// stands for whichever process runs it now. Send, Call, Link, Monitor and
// Kill take a Target.
type Target interface {
	enqueue(m *Message, mode sendMode, w waiter) error
	// addLink records that p is linked to the target; dead reports that
	// the target has ended, and nothing was recorded. It fails with
	// ErrLimit, recording nothing, where the target cannot hold the link.
	addLink(p *Process) (dead bool, err error)
	removeLink(p *Process)
	// linkedExit tells the target that p, linked to it, ended.
	linkedExit(p *Process, exit isleapi.Exit)
	// addWatch registers a monitor; dead reports that the target has
	// ended, and nothing was registered.
	addWatch(w *watch) (dead bool)
	removeWatch(w *watch)
	// Kill ends the target, or for a service its current process.
	Kill(reason string)
	// Ended reports whether the target has ended for good.
	Ended() bool
}

var (
	_ Target = (*Process)(nil)
	_ Target = (*Service)(nil)
)

// A Service is a stable address for a supervised process: a handle to it
// survives the process's crashes and restarts, with no name in any global
// namespace. The supervisor attaches each new instance; between two
// instances, messages wait in the service, within the bounds of a mailbox,
// and reach the next instance in the order they were sent. Messages still
// queued in a crashed instance's mailbox are handed on too: only the
// message being handled at the crash is lost, and if it was a call, its
// caller gets ErrGone. Links and monitors on a service fire when the
// supervisor gives it up (End), not when one instance ends.
type Service struct {
	// Name is the service's name in its supervisor, for logs.
	Name string

	cur atomic.Pointer[Process] // the running instance; nil between instances
	// away is an instance on another node serving the service instead
	// of a local one (Serve), until it ends.
	away atomic.Pointer[Remote]

	// signalling is held by End until the links are told, as
	// Process.signalling is by finish. Taken before mu.
	signalling sync.Mutex

	mu      sync.Mutex // guards everything below; taken before Process.mu
	pending mailbox    // messages waiting for the next instance
	ended   bool
	exit    isleapi.Exit
	links   linkers
	watches watchList
	done    chan struct{}
}

// NewService makes a service with no instance yet.
func NewService(name string) *Service {
	s := &Service{Name: name, done: make(chan struct{})}
	s.pending.limit = DefaultMailbox
	return s
}

// Current returns the running instance, or nil between instances.
//
// Safe from any goroutine.
func (s *Service) Current() *Process { return s.cur.Load() }

// Done is closed when the service is given up.
//
// Safe from any goroutine.
func (s *Service) Done() <-chan struct{} { return s.done }

// Ended implements Target.
//
// Safe from any goroutine.
func (s *Service) Ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// Exit returns the reason the service was given up, once it was.
//
// Safe from any goroutine.
func (s *Service) Exit() (isleapi.Exit, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exit, s.ended
}

// Kill implements Target: it kills the current instance, if there is one;
// its supervisor decides what comes next.
//
// Safe from any goroutine.
func (s *Service) Kill(reason string) {
	if p := s.cur.Load(); p != nil {
		p.Kill(reason)
	}
	if r := s.away.Load(); r != nil {
		r.Kill(reason)
	}
}

// Serve makes r, a service or process on another node, the service's
// instance until it ends or Unserve: messages waiting in the service go
// to it first, in order, and later ones follow. Its end does not end the
// service: messages wait again for the next instance. wait bounds the
// handing on of the waiting messages (the other node's window).
//
// Safe from any goroutine; one Serve at a time per service.
func (s *Service) Serve(ctx context.Context, r *Remote) error {
	for {
		s.mu.Lock()
		if s.ended {
			s.mu.Unlock()
			return ErrGone
		}
		if s.pending.len() == 0 {
			s.away.Store(r)
			s.mu.Unlock()
			return nil
		}
		waiting := s.pending.drain()
		s.resetPending()
		s.mu.Unlock()
		for i, m := range waiting {
			if err := r.enqueue(m, sendBlock, hostWaiter{ctx}); err != nil {
				s.requeue(waiting[i:]) // for the next instance
				return err
			}
		}
	}
}

// Unserve stops r serving the service, if it does.
//
// Safe from any goroutine.
func (s *Service) Unserve(r *Remote) { s.away.CompareAndSwap(r, nil) }

// resetPending opens a fresh waiting queue after a drain, keeping its
// bound and the room reserved in it. Precondition: s.mu is held.
func (s *Service) resetPending() {
	s.pending = mailbox{limit: s.pending.limit, reserved: s.pending.reserved}
}

// Reserve is Process.Reserve for whichever process runs the service: in
// the current instance's mailbox, or, between instances (or when the
// instance has just ended), in the queue where messages wait for the next
// one, which has a mailbox's bounds (MailboxBytes). So requests the host
// is still receiving for a restarting service hold no more memory than a
// running instance would let them. It fails with ErrFull when there is no
// room now, and ErrGone once the service is given up.
//
// Safe from any goroutine.
func (s *Service) Reserve(n int64) (*Reservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil, ErrGone
	}
	if p := s.cur.Load(); p != nil {
		r, err := p.Reserve(n)
		if !errors.Is(err, ErrGone) {
			return r, err
		}
		// Ended, not yet detached: its messages will wait here.
	}
	if s.pending.full(int(n), 0) {
		return nil, ErrFull
	}
	s.pending.reserved += n
	return &Reservation{s: s, n: n}, nil
}

// releaseLocked gives back r's room in the waiting queue, and wakes those
// waiting for room. Precondition: s.mu is held.
func (s *Service) releaseLocked(r *Reservation) {
	if r.n == 0 {
		return
	}
	s.pending.reserved -= r.n
	r.n = 0
	if mb := &s.pending; mb.space != nil {
		close(mb.space)
		mb.space = nil
	}
}

// requeue puts messages back at the head of the waiting queue.
func (s *Service) requeue(ms []*Message) {
	s.mu.Lock()
	later := s.pending.drain()
	s.resetPending()
	for _, m := range append(ms, later...) {
		s.pending.append(m)
	}
	s.mu.Unlock()
}

// enqueue implements Target: to the current instance, or into the service
// to wait for the next.
func (s *Service) enqueue(m *Message, mode sendMode, w waiter) error {
	for {
		if r := s.away.Load(); r != nil {
			err := r.enqueue(m, mode, w)
			if err != ErrGone {
				return err
			}
			s.away.CompareAndSwap(r, nil) // it ended: hold the message for the next
		}
		if p := s.cur.Load(); p != nil {
			err := p.enqueue(m, mode, w)
			if err != ErrGone {
				return err
			}
			s.cur.CompareAndSwap(p, nil) // it died: hold the message for the next
		}
		s.mu.Lock()
		if s.ended {
			s.mu.Unlock()
			return ErrGone
		}
		if s.cur.Load() != nil || s.away.Load() != nil {
			s.mu.Unlock()
			continue // an instance was attached meanwhile
		}
		mb := &s.pending
		var held int64
		if h := m.hold; h != nil && h.s == s {
			held = h.n
		}
		if (mode == sendBlock || mode == sendNonBlock) && mb.full(len(m.Data), held) {
			if mode == sendNonBlock {
				s.mu.Unlock()
				return ErrFull
			}
			if mb.space == nil {
				mb.space = make(chan struct{})
			}
			space := mb.space
			s.mu.Unlock()
			if err := w.wait(space, -1); err != nil {
				return err
			}
			continue
		}
		if h := m.hold; h != nil && h.s == s {
			m.hold = nil
			s.releaseLocked(h) // its bytes now count as queued
		}
		if m.hold != nil {
			// The room was held in an instance that has ended.
			r := m.hold
			m.hold = nil
			s.mu.Unlock()
			r.Release()
			s.mu.Lock()
			if s.ended || s.cur.Load() != nil {
				s.mu.Unlock()
				continue
			}
		}
		mb.append(m)
		s.mu.Unlock()
		return nil
	}
}

// attach makes p the running instance, handing it the messages that
// waited, in order, before anyone can send to it directly. Called while p
// is made, before it runs.
func (s *Service) attach(p *Process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	waiting := s.pending.drain()
	s.resetPending()
	p.mu.Lock()
	for _, m := range waiting {
		p.admit(messageSize(m), true)
		p.mbox.append(m)
	}
	p.mu.Unlock()
	s.cur.Store(p)
}

// detach ends p's turn as the instance. queued are the messages p never
// took: they were sent before anything now waiting, so they go first.
func (s *Service) detach(p *Process, queued []*Message) {
	s.cur.CompareAndSwap(p, nil)
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		for _, m := range queued {
			m.release()
			m.recycle()
		}
		return
	}
	mb := &s.pending
	later := mb.drain()
	s.resetPending()
	for _, m := range append(queued, later...) {
		mb.append(m)
	}
	s.mu.Unlock()
}

// End gives the service up with exit: from now on sends fail with
// ErrGone, waiting messages are dropped (their callers get ErrGone), and
// its links and monitors fire. The current instance, if any, is detached
// but not stopped: its supervisor stops it.
//
// Safe from any goroutine.
func (s *Service) End(exit isleapi.Exit) {
	s.signalling.Lock()
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		s.signalling.Unlock()
		return
	}
	s.ended, s.exit = true, exit
	s.cur.Store(nil)
	s.away.Store(nil)
	waiting := s.pending.drain()
	links, watches := s.links.take(), s.watches.take()
	close(s.done)
	s.mu.Unlock()
	for _, m := range waiting {
		m.release()
		m.recycle()
	}
	for p := range links {
		p.mu.Lock()
		delete(p.links, Target(s))
		p.mu.Unlock()
		_ = p.exitSignal(s, exit, false)
	}
	s.signalling.Unlock()
	downAll(watches, exit)
}

// addLink implements Target.
func (s *Service) addLink(p *Process) (bool, error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		s.awaitSignals()
		return true, nil
	}
	s.links.add(p)
	s.mu.Unlock()
	return false, nil
}

// awaitSignals returns once an ended s has told its links.
func (s *Service) awaitSignals() {
	s.signalling.Lock()
	s.signalling.Unlock() //lint:ignore SA2001 a barrier: End holds it until its links are told
}

// removeLink implements Target.
func (s *Service) removeLink(p *Process) {
	s.mu.Lock()
	s.links.remove(p)
	s.mu.Unlock()
}

// linkedExit implements Target: a process linked to the service ended, so
// the current instance gets the exit signal a linked peer would.
func (s *Service) linkedExit(p *Process, exit isleapi.Exit) {
	s.removeLink(p)
	if cur := s.cur.Load(); cur != nil {
		_ = cur.exitSignal(p, exit, false)
	}
}

// addWatch implements Target.
func (s *Service) addWatch(w *watch) bool {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		s.awaitSignals()
		return true
	}
	s.watches.add(w)
	s.mu.Unlock()
	return false
}

// removeWatch implements Target.
func (s *Service) removeWatch(w *watch) {
	s.mu.Lock()
	s.watches.remove(w)
	s.mu.Unlock()
}
