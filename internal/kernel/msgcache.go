package kernel

import "sync"

// Messages between reactors are recycled through their workers rather than
// through sync.Pool alone. A receiver on one core frees what senders on
// another allocate, so sync.Pool's per-P caches run dry on one side and
// full on the other, and every message costs a steal between them. Here a
// worker keeps a slab of free messages of its own, touched only by its
// goroutine, and trades whole slabs with the others through the
// scheduler: one lock per slab, not atomics per message.

// slabLen is how many messages a slab holds.
const slabLen = 128

// maxSlabs bounds the full slabs the scheduler keeps for the workers; past
// it, messages go to sync.Pool, which the GC empties.
const maxSlabs = 32

// maxCachedData bounds the payload buffer of a message a slab keeps, so
// that the slabs hold little memory besides the messages themselves.
const maxCachedData = 256

// slabs is the scheduler's store of full and empty slabs.
type slabs struct {
	mu          sync.Mutex // a leaf
	full, empty [][]*Message
}

// newMessage returns a free message: from the worker's slab, from another
// worker's through the store, or from the pool.
func (w *worker) newMessage() *Message {
	if n := len(w.free); n > 0 {
		m := w.free[n-1]
		w.free = w.free[:n-1]
		return m
	}
	st := &w.s.slabs
	st.mu.Lock()
	if n := len(st.full); n > 0 {
		full := st.full[n-1]
		st.full = st.full[:n-1]
		if w.free != nil {
			st.empty = append(st.empty, w.free)
		}
		w.free = full
	}
	st.mu.Unlock()
	if n := len(w.free); n > 0 {
		m := w.free[n-1]
		w.free = w.free[:n-1]
		return m
	}
	return msgPool.Get().(*Message)
}

// freeMessage takes back a message reset by recycle.
func (w *worker) freeMessage(m *Message) {
	if cap(m.Data) > maxCachedData {
		msgPool.Put(m)
		return
	}
	// A slab keeps no capability buffer: the few messages that carry
	// handles make their own. Sending such a message to the pool instead,
	// as this once did, sent every later message that reused it there too:
	// a request and its answer then went through sync.Pool at every hop.
	m.Caps = nil
	if w.free == nil {
		w.free = make([]*Message, 0, slabLen)
	}
	if len(w.free) < slabLen {
		w.free = append(w.free, m)
		return
	}
	st := &w.s.slabs
	st.mu.Lock()
	if len(st.full) < maxSlabs {
		st.full = append(st.full, w.free)
		w.free = nil
		if n := len(st.empty); n > 0 {
			w.free = st.empty[n-1][:0]
			st.empty = st.empty[:n-1]
		}
	}
	st.mu.Unlock()
	if w.free == nil {
		w.free = make([]*Message, 0, slabLen)
	}
	if len(w.free) < slabLen {
		w.free = append(w.free, m)
		return
	}
	msgPool.Put(m)
}

// releaseSlab gives the worker's free messages back to the store, or to
// the pool once the store is full: a worker about to sleep, or whose
// turn is about to wait, holds none, however many workers blocked turns
// have made.
func (w *worker) releaseSlab() {
	if len(w.free) == 0 {
		return
	}
	st := &w.s.slabs
	st.mu.Lock()
	kept := len(st.full) < maxSlabs
	if kept {
		st.full = append(st.full, w.free)
	}
	st.mu.Unlock()
	if !kept {
		for _, m := range w.free {
			msgPool.Put(m)
		}
		clear(w.free)
	}
	w.free = nil
}

// NewMessage returns a message carrying a copy of data, for p to send:
// from its worker's slab if p is a reactor in a turn.
//
// Precondition: called by p's own goroutine or turn, or p is nil.
func (p *Process) NewMessage(tag uint32, data []byte) *Message {
	if p == nil {
		return NewMessage(tag, data)
	}
	if w := p.turnWorker; w != nil {
		m := w.newMessage()
		m.Tag = tag
		m.Data = append(m.Data[:0], data...)
		return m
	}
	return NewMessage(tag, data)
}
