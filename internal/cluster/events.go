package cluster

import (
	"sync"
	"sync/atomic"
)

// dispatcher delivers events to the OnChange functions from one
// goroutine. Its queue is unbounded so that the membership protocol,
// which pushes under Node.mu, never waits for a slow function.
type dispatcher struct {
	mu       sync.Mutex
	q        []Event
	handlers []*handler // copied on write
	stopping bool       // deliver what is queued, then exit
	wake     chan struct{}
	abort    chan struct{} // exit at once, dropping the queue
	done     chan struct{}
	stopOnce sync.Once
}

type handler struct {
	f   func(Event)
	off atomic.Bool
}

func newDispatcher() *dispatcher {
	return &dispatcher{wake: make(chan struct{}, 1), abort: make(chan struct{}), done: make(chan struct{})}
}

// push queues evs. Safe from any goroutine.
func (d *dispatcher) push(evs []Event) {
	d.mu.Lock()
	d.q = append(d.q, evs...)
	d.mu.Unlock()
	d.signal()
}

func (d *dispatcher) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) add(f func(Event)) (cancel func()) {
	h := &handler{f: f}
	d.mu.Lock()
	d.handlers = append(d.handlers[:len(d.handlers):len(d.handlers)], h)
	d.mu.Unlock()
	return func() {
		h.off.Store(true)
		d.mu.Lock()
		hs := make([]*handler, 0, len(d.handlers))
		for _, x := range d.handlers {
			if x != h {
				hs = append(hs, x)
			}
		}
		d.handlers = hs
		d.mu.Unlock()
	}
}

func (d *dispatcher) run() {
	defer close(d.done)
	for {
		select {
		case <-d.wake:
		case <-d.abort:
			return
		}
		d.mu.Lock()
		q, hs, stopping := d.q, d.handlers, d.stopping
		d.q = nil
		d.mu.Unlock()
		for _, e := range q {
			for _, h := range hs {
				select {
				case <-d.abort:
					return
				default:
				}
				if !h.off.Load() {
					h.f(e)
				}
			}
		}
		if stopping {
			d.mu.Lock()
			empty := len(d.q) == 0
			d.mu.Unlock()
			if empty {
				return
			}
			d.signal()
		}
	}
}

// drain makes run deliver what is queued, then exit.
func (d *dispatcher) drain() {
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	d.signal()
}

// kill makes run exit without delivering any more.
func (d *dispatcher) kill() {
	d.stopOnce.Do(func() { close(d.abort) })
}
