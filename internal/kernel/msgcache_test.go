package kernel

import "testing"

// Messages freed on one worker reach another through the store, a slab at
// a time; a worker that sleeps holds none; the store keeps a bounded
// number of slabs.
func TestMessageSlabs(t *testing.T) {
	s := &scheduler{}
	a, b := &worker{s: s}, &worker{s: s}
	var made []*Message
	for range slabLen + 1 {
		m := b.newMessage() // from the pool: the store is empty
		made = append(made, m)
	}
	for _, m := range made {
		m.reset()
		a.freeMessage(m)
	}
	if len(s.slabs.full) != 1 || len(a.free) != 1 {
		t.Fatalf("after %d freed: %d full slabs in the store, %d free on the worker; want 1 and 1", len(made), len(s.slabs.full), len(a.free))
	}
	if m := b.newMessage(); m != made[slabLen-1] {
		t.Fatal("the other worker did not take the full slab, last freed first")
	}
	a.releaseSlab()
	if a.free != nil || len(s.slabs.full) != 1 {
		t.Fatalf("a sleeping worker holds %d messages; the store %d slabs, want 1", len(a.free), len(s.slabs.full))
	}
	// A payload too big to keep goes to the pool.
	big := NewMessage(1, make([]byte, maxCachedData+1))
	big.reset()
	a.freeMessage(big)
	if len(a.free) != 0 {
		t.Fatal("a worker kept a message with a big payload buffer")
	}
	// A message that once carried handles goes back to the worker, without
	// its capability buffer: were it sent to the pool, every message that
	// later reused it would go there too.
	withCaps := &Message{Tag: 1}
	withCaps.Caps = append(withCaps.Caps, Cap{Kind: 1})
	withCaps.reset()
	a.freeMessage(withCaps)
	if len(a.free) != 1 || a.free[0] != withCaps || withCaps.Caps != nil {
		t.Fatalf("a message that carried handles: %d on the worker, caps buffer %v; want it there, with none", len(a.free), withCaps.Caps)
	}
	a.free = nil
	// The store is bounded.
	for range maxSlabs + 2 {
		a.free = make([]*Message, 0, slabLen)
		a.free = append(a.free, NewMessage(1, nil))
		a.releaseSlab()
	}
	if len(s.slabs.full) != maxSlabs {
		t.Fatalf("the store holds %d slabs; its bound is %d", len(s.slabs.full), maxSlabs)
	}
}
