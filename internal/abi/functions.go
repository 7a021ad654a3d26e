package abi

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
)

// functions take no handle of a particular kind. docs/ABI.md documents
// each under a heading with these parameter names.
var functions = []capkind.Func{
	{Name: "self", Result: true, Fn: self},
	{Name: "grant", Params: capkind.I32s("name_ptr", "name_len"), Result: true, Fn: grant},
	{Name: "recv", Params: []capkind.Param{capkind.I32("buf_ptr"), capkind.I32("buf_cap"), capkind.I32("match"), capkind.I32("mask"), capkind.I64("timeout"), capkind.I32("info_ptr")}, Result: true, Fn: recv},
	{Name: "msg_read", Params: capkind.I32s("offset", "ptr", "len"), Result: true, Fn: msgRead},
	{Name: "msg_handles", Params: capkind.I32s("ptr", "cap"), Result: true, Fn: msgHandles},
	{Name: "inbox", Params: capkind.I32s("ptr", "cap"), Result: true, Fn: inbox},
	{Name: "close", Params: capkind.I32s("h"), Result: true, Fn: closeFn},
	{Name: "exit", Params: capkind.I32s("code"), Fn: exit},
	{Name: "demonitor", Params: capkind.I32s("ref"), Result: true, Fn: demonitor},
	{Name: "trap_exits", Params: capkind.I32s("on"), Result: true, Fn: trapExits},
}

// processFunctions take a process handle.
var processFunctions = []capkind.Func{
	{Name: "send", Params: capkind.I32s("h", "tag", "ptr", "len", "handles_ptr", "nhandles", "flags"), Result: true, Fn: send},
	{Name: "call", Params: []capkind.Param{capkind.I32("h"), capkind.I32("tag"), capkind.I32("ptr"), capkind.I32("len"), capkind.I32("handles_ptr"), capkind.I32("nhandles"), capkind.I32("buf_ptr"), capkind.I32("buf_cap"), capkind.I64("timeout"), capkind.I32("info_ptr")}, Result: true, Fn: callFn},
	{Name: "kill", Params: capkind.I32s("h"), Result: true, Fn: kill},
	{Name: "link", Params: capkind.I32s("h"), Result: true, Fn: link},
	{Name: "unlink", Params: capkind.I32s("h"), Result: true, Fn: unlink},
	{Name: "monitor", Params: capkind.I32s("h"), Result: true, Fn: monitor},
}

// Flags.
const (
	spawnLink   = 1
	spawnStdio  = 2
	sendNoBlock = 1
	sendCopy    = 2
)

// process resolves a process handle, which names a process or a service,
// and must carry need. A non-zero code is a missing or revoked right.
func (c Ctx) process(h uint32, need isleapi.Rights) (kernel.Target, int32) {
	obj, code := c.Use(h, capkind.Process, need)
	if code != 0 {
		return nil, code
	}
	if p, ok := obj.(*kernel.Process); ok {
		return p, 0 // the common case, without looking up an interface table
	}
	return obj.(kernel.Target), 0
}

func self(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "self")
	SetResult(stack, int32(c.P.Self()))
}

func grant(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "grant")
	a := ArgsOf(stack)
	namePtr, nameLen := a.U32(), a.U32()
	h, ok := c.P.Grant(string(c.Bytes(namePtr, nameLen)))
	if !ok {
		SetResult(stack, ENotFound)
		return
	}
	SetResult(stack, int32(h))
}

func spawn(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "spawn")
	a := ArgsOf(stack)
	spawner, namePtr, nameLen := a.U32(), a.U32(), a.U32()
	initPtr, initLen, handlesPtr, nhandles, flags := a.U32(), a.U32(), a.U32(), a.U32(), a.U32()
	if flags&^(spawnLink|spawnStdio) != 0 {
		c.Misuse("unknown flags %#x", flags)
	}
	sp := c.Cap(spawner, capkind.Spawner)
	if err := sp.Check(isleapi.RightUse); err != nil {
		SetResult(stack, c.Code(err))
		return
	}
	name := string(c.Bytes(namePtr, nameLen))
	init, hs, code := c.message(0, initPtr, initLen, handlesPtr, nhandles, false)
	if code != 0 {
		SetResult(stack, code)
		return
	}
	var child kernel.Target
	var err error
	if _, remote := sp.Object.(*kernel.RemoteSpawner); remote {
		var r *kernel.Remote
		if r, err = c.P.SpawnRemote(*sp, name, init, flags&spawnLink != 0, flags&spawnStdio != 0); err == nil {
			child = r
		}
	} else {
		var p *kernel.Process
		if p, err = c.P.SpawnChild(*sp, name, init, flags&spawnLink != 0, flags&spawnStdio != 0); err == nil {
			child = p
		}
	}
	if err != nil {
		c.P.CheckKilled()             // a kill that ended the child's start ends the caller too
		SetResult(stack, c.Code(err)) // the handles never left the caller; the spawn dropped init
		return
	}
	c.removeMoved(hs)
	childCap := kernel.Cap{Kind: capkind.Process, Rights: capkind.ProcessRights.All(), Object: child}
	h, err := c.Handles.Insert(childCap)
	if err != nil {
		childCap.Release() // a remote child's count was the handle's
		SetResult(stack, c.Code(err))
		return
	}
	SetResult(stack, int32(h))
}

func send(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "send")
	a := ArgsOf(stack)
	h, tag, ptr, n, handlesPtr, nhandles, flags := a.U32(), a.U32(), a.U32(), a.U32(), a.U32(), a.U32(), a.U32()
	if flags&^(sendNoBlock|sendCopy) != 0 {
		c.Misuse("unknown flags %#x", flags)
	}
	q, code := c.process(h, isleapi.RightSend)
	if code != 0 {
		SetResult(stack, code)
		return
	}
	m, hs, code := c.message(tag, ptr, n, handlesPtr, nhandles, flags&sendCopy != 0)
	if code != 0 {
		SetResult(stack, code)
		return
	}
	if err := c.P.Send(q, m, flags&sendNoBlock != 0); err != nil {
		SetResult(stack, c.Code(err)) // Send dropped m's copies
		return
	}
	if flags&sendCopy == 0 {
		c.removeMoved(hs)
	}
	SetResult(stack, 0)
}

func recv(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "recv")
	a := ArgsOf(stack)
	buf, bufCap, match, mask, ns, info := a.U32(), a.U32(), a.U32(), a.U32(), a.I64(), a.U32()
	c.Bytes(info, 16) // check before blocking
	c.Bytes(buf, bufCap)
	m, aux, err := c.P.Receive(match, mask, timeout(ns))
	if err != nil {
		SetResult(stack, c.Code(err))
		return
	}
	SetResult(stack, c.deliverTo(m, aux, buf, bufCap, info))
}

// deliverTo copies the current message m into the guest's buffer and info
// struct, returning its length or ETOOBIG if the buffer was short.
func (c Ctx) deliverTo(m *kernel.Message, aux, buf, bufCap, info uint32) int32 {
	n := uint32(len(m.Data))
	c.P.ChargeBytes(copy(c.Bytes(buf, min(n, bufCap)), m.Data))
	b := c.Bytes(info, 16)
	binary.LittleEndian.PutUint32(b[0:], n)
	binary.LittleEndian.PutUint32(b[4:], m.Tag)
	binary.LittleEndian.PutUint32(b[8:], aux)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(c.P.CurrentHandles())))
	if n > bufCap {
		return ETooBig
	}
	return int32(n)
}

func msgRead(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "msg_read")
	a := ArgsOf(stack)
	off, ptr, n := a.U32(), a.U32(), a.U32()
	m := c.P.Current()
	if m == nil {
		c.Misuse("there is no current message")
	}
	if uint64(off) > uint64(len(m.Data)) {
		c.Misuse("offset %d is past the message's %d bytes", off, len(m.Data))
	}
	copied := copy(c.Bytes(ptr, n), m.Data[off:])
	c.P.ChargeBytes(copied)
	SetResult(stack, int32(copied))
}

func msgHandles(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "msg_handles")
	a := ArgsOf(stack)
	ptr, capacity := a.U32(), a.U32()
	hs := c.P.CurrentHandles()
	b := c.Bytes(ptr, 4*min(capacity, uint32(len(hs))))
	for i := range min(int(capacity), len(hs)) {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(hs[i]))
	}
	SetResult(stack, int32(len(hs)))
}

func callFn(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "call")
	a := ArgsOf(stack)
	h, tag, ptr, n, handlesPtr, nhandles := a.U32(), a.U32(), a.U32(), a.U32(), a.U32(), a.U32()
	buf, bufCap, ns, info := a.U32(), a.U32(), a.I64(), a.U32()
	q, code := c.process(h, isleapi.RightSend)
	if code != 0 {
		SetResult(stack, code)
		return
	}
	c.Bytes(info, 16)
	c.Bytes(buf, bufCap)
	m, hs, code := c.message(tag, ptr, n, handlesPtr, nhandles, false)
	if code != 0 {
		SetResult(stack, code)
		return
	}
	r, sent, err := c.P.Call(q, m, timeout(ns))
	if sent {
		c.removeMoved(hs)
	} // else Call dropped m's copies
	if err != nil {
		SetResult(stack, c.Code(err))
		return
	}
	c.P.SetCurrent(r)
	SetResult(stack, c.deliverTo(r, 0, buf, bufCap, info))
}

func reply(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "reply")
	a := ArgsOf(stack)
	h, tag, ptr, n, handlesPtr, nhandles := a.U32(), a.U32(), a.U32(), a.U32(), a.U32(), a.U32()
	c.Cap(h, capkind.Reply)
	m, hs, code := c.message(tag, ptr, n, handlesPtr, nhandles, false)
	if code != 0 {
		SetResult(stack, code)
		return
	}
	if err := c.P.Reply(kernel.Handle(h), m); err != nil {
		m.DropRefs()
		SetResult(stack, c.Code(err))
		return
	}
	c.removeMoved(hs)
	SetResult(stack, 0)
}

func inbox(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "inbox")
	a := ArgsOf(stack)
	ptr, n := a.U32(), a.U32()
	c.Bytes(ptr, n)
	c.P.SetInbox(ptr, n)
	SetResult(stack, 0)
}

func closeFn(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "close")
	a := ArgsOf(stack)
	h := a.U32()
	cp, ok := c.Handles.Remove(kernel.Handle(h))
	if !ok {
		c.Misuse("handle %d is not in the process's handle table", h)
	}
	cp.Release()
	SetResult(stack, 0)
}

func kill(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "kill")
	a := ArgsOf(stack)
	h := a.U32()
	q, code := c.process(h, isleapi.RightKill)
	if code != 0 {
		SetResult(stack, code)
		return
	}
	if q.Ended() {
		SetResult(stack, EGone)
		return
	}
	q.Kill("killed")
	SetResult(stack, 0)
}

func exit(_ context.Context, _ api.Module, stack []uint64) {
	a := ArgsOf(stack)
	code := a.U32()
	panic(sys.NewExitError(code))
}

func link(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "link")
	a := ArgsOf(stack)
	h := a.U32()
	q, code := c.process(h, isleapi.RightKill)
	if code != 0 {
		SetResult(stack, code)
		return
	}
	if err := c.P.Link(q); err != nil {
		SetResult(stack, c.Code(err))
		return
	}
	SetResult(stack, 0)
}

func unlink(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "unlink")
	a := ArgsOf(stack)
	h := a.U32()
	q := c.Cap(h, capkind.Process).Object.(kernel.Target)
	c.P.Unlink(q)
	SetResult(stack, 0)
}

func monitor(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "monitor")
	a := ArgsOf(stack)
	h := a.U32()
	q, code := c.process(h, isleapi.RightMonitor)
	if code != 0 {
		SetResult(stack, code)
		return
	}
	ref, err := c.P.Monitor(q)
	if err != nil {
		SetResult(stack, c.Code(err))
		return
	}
	SetResult(stack, int32(ref))
}

// demonitor(ref) cancels a monitor. As in Erlang, a ref whose DOWN has
// already arrived, or that was never a monitor of the caller's, is no
// fault: there is nothing left to cancel, and the caller cannot always
// know which (the DOWN may be on its way).
func demonitor(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "demonitor")
	a := ArgsOf(stack)
	ref := a.U32()
	c.P.Demonitor(ref)
	SetResult(stack, 0)
}

func trapExits(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "trap_exits")
	a := ArgsOf(stack)
	on := a.U32()
	if on > 1 {
		c.Misuse("argument %d is neither 0 nor 1", on)
	}
	prev := c.P.TrapExits(on == 1)
	if prev {
		SetResult(stack, 1)
	} else {
		SetResult(stack, 0)
	}
}

// timeout converts the ABI's i64 nanoseconds: negative is forever.
func timeout(ns int64) time.Duration {
	if ns < 0 {
		return -1
	}
	return time.Duration(ns)
}
