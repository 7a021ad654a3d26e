package abi

import (
	"encoding/binary"

	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
)

// message builds a message from the guest's arguments: a copy of the
// payload and of the capabilities the listed handles name, each counted
// as a copy (kernel.Cap.AddRef). The handles stay in the caller's table
// until the message is accepted; removeMoved then takes them out unless
// they were copied. A message that is not accepted has its copies dropped
// (kernel.Message.DropRefs: Send, Call and the spawns do it themselves). A
// non-zero code is an expected failure to return.
func (c Ctx) message(tag, ptr, n, handlesPtr, nhandles uint32, copyCaps bool) (*kernel.Message, []kernel.Handle, int32) {
	if tag >= kernel.TagSystem {
		c.Misuse("tag %#x is reserved for the system", tag)
	}
	payload := c.Bytes(ptr, n) // a range outside memory is misuse, whatever its size
	if n > kernel.DefaultMaxMessage {
		return nil, nil, ETooBig
	}
	if nhandles > kernel.MaxMessageHandles {
		c.Misuse("%d handles in one message; the limit is %d", nhandles, kernel.MaxMessageHandles)
	}
	c.P.ChargeBytes(int(n)) // copied into the message
	if nhandles == 0 {
		return c.P.NewMessage(tag, payload), nil, 0
	}
	raw := c.Bytes(handlesPtr, 4*nhandles)
	hs := make([]kernel.Handle, nhandles)
	m := c.P.NewMessage(tag, payload)
	m.Caps = append(m.Caps[:0], make([]kernel.Cap, nhandles)...)
	for i := range hs {
		h := kernel.Handle(binary.LittleEndian.Uint32(raw[4*i:]))
		for _, prev := range hs[:i] {
			if prev == h {
				c.Misuse("handle %d is listed twice", h)
			}
		}
		cp := c.Lookup(uint32(h))
		if copyCaps && cp.Kind == capkind.Reply {
			c.Misuse("handle %d is a reply handle, which can be moved but not copied", h)
		}
		hs[i], m.Caps[i] = h, *cp
	}
	for _, c := range m.Caps {
		c.AddRef() // after every Misuse above: nothing to undo on a trap
	}
	return m, hs, 0
}

// removeMoved takes moved handles out of the caller's table: the message
// now carries them, and its copies are the ones that count.
func (c Ctx) removeMoved(hs []kernel.Handle) {
	for _, h := range hs {
		if cp, ok := c.Handles.Remove(h); ok {
			cp.DropRef()
		}
	}
}
