package kernel

import (
	"testing"
	"unsafe"
)

// The charge for a queued message covers what the kernel holds for it.
func TestMessageOverheadCoversMessage(t *testing.T) {
	if held := unsafe.Sizeof(Message{}) + unsafe.Sizeof(&Message{}); held > messageOverhead {
		t.Fatalf("a queued message holds %d bytes, but is charged %d", held, messageOverhead)
	}
}

// A chain keeps its last MaxHops hops, oldest first, and counts them all.
func TestHopsKeepTheLast(t *testing.T) {
	var h hops
	for i := range MaxHops + 2 {
		var next hops
		next.extend(&h, uint64(i+1), nil, uint32(i+1))
		h = next
	}
	c := h.chain()
	if c.Depth != MaxHops+2 || len(c.Hops) != MaxHops {
		t.Fatalf("depth %d, %d hops; want %d, %d", c.Depth, len(c.Hops), MaxHops+2, MaxHops)
	}
	for i, hop := range c.Hops {
		if want := uint64(i + 3); hop.PID != want || hop.Tag != uint32(want) {
			t.Errorf("hop %d: %+v, want pid and tag %d", i, hop, want)
		}
	}
}

// sink is a Target that keeps the message queued to it.
type sink struct {
	Target
	got *Message
}

func (s *sink) enqueue(m *Message, _ sendMode, _ waiter) error { s.got = m; return nil }

// A process sends under the id of the message it handles, and a reply
// carries its request's id even when its sender has moved on to another
// message; each send adds the sender as a hop.
func TestCausalityIsInherited(t *testing.T) {
	k := &Kernel{}
	b := &Process{k: k, ID: 2, mod: &Module{Name: "b"}}
	req := &Message{Tag: 1, Trace: 42}
	req.hops.extend(&noHops, 0, nil, 1) // from the host
	if _, err := request(&sink{}, req, nil); err != nil {
		t.Fatal(err)
	}
	h := Handle(b.deliver(req))
	other := &Message{Tag: 7, Trace: 99}
	b.deliver(other)

	out := &Message{Tag: 3}
	b.stamp(out)
	if out.Trace != 99 {
		t.Errorf("a send while handling trace 99 has trace %d", out.Trace)
	}
	r := &Message{Tag: 4}
	if err := b.Reply(h, r); err != nil {
		t.Fatal(err)
	}
	if r.Trace != 42 {
		t.Errorf("the reply to a request of trace 42 has trace %d", r.Trace)
	}
	c := out.Chain()
	if c.Depth != 1 || c.Hops[0].PID != 2 || c.Hops[0].Tag != 3 {
		t.Errorf("chain of a send from b: %+v", c)
	}

	idle := &Process{k: k, ID: 5, mod: &Module{Name: "c"}}
	first, second := &Message{}, &Message{}
	idle.stamp(first)
	idle.stamp(second)
	if first.Trace == 0 || first.Trace != second.Trace || first.Trace == 42 || first.Trace == 99 {
		t.Errorf("sends outside any message: traces %d and %d, want one id of the process's own", first.Trace, second.Trace)
	}
}
