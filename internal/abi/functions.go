package abi

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/isle-run/isle/internal/kernel"
)

// functions is the whole isle host module. Parameters are in stack order;
// docs/ABI.md documents each.
var functions = []Func{
	{"self", nil, ret32, self},
	{"grant", sig(2), ret32, grant},
	{"spawn", sig(8), ret32, spawn},
	{"send", sig(7), ret32, send},
	{"recv", []api.ValueType{i32, i32, i32, i32, i64, i32}, ret32, recv},
	{"msg_read", sig(3), ret32, msgRead},
	{"msg_handles", sig(2), ret32, msgHandles},
	{"call", []api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32, i64, i32}, ret32, callFn},
	{"reply", sig(6), ret32, reply},
	{"inbox", sig(2), ret32, inbox},
	{"close", sig(1), ret32, closeFn},
	{"kill", sig(1), ret32, kill},
	{"exit", sig(1), nil, exit},
	{"link", sig(1), ret32, link},
	{"unlink", sig(1), ret32, unlink},
	{"monitor", sig(1), ret32, monitor},
	{"demonitor", sig(1), ret32, demonitor},
	{"trap_exits", sig(1), ret32, trapExits},
}

// Flags.
const (
	spawnLink   = 1
	spawnStdio  = 2
	sendNoBlock = 1
	sendCopy    = 2
)

func u32(v uint64) uint32 { return uint32(v) }

func setResult(stack []uint64, v int32) { stack[0] = uint64(uint32(v)) }

func self(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "self")
	setResult(stack, int32(c.P.Self()))
}

func grant(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "grant")
	name := string(c.Bytes(u32(stack[0]), u32(stack[1])))
	h, ok := c.P.Grant(name)
	if !ok {
		setResult(stack, ENotFound)
		return
	}
	setResult(stack, int32(h))
}

func spawn(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "spawn")
	flags := u32(stack[7])
	if flags&^(spawnLink|spawnStdio) != 0 {
		c.Misuse("unknown flags %#x", flags)
	}
	sp := c.Cap(u32(stack[0]), kernel.KindSpawner)
	if err := sp.Check(kernel.RightUse); err != nil {
		setResult(stack, c.Code(err))
		return
	}
	name := string(c.Bytes(u32(stack[1]), u32(stack[2])))
	init, hs, code := c.message(0, u32(stack[3]), u32(stack[4]), u32(stack[5]), u32(stack[6]), false)
	if code != 0 {
		setResult(stack, code)
		return
	}
	child, err := c.P.SpawnChild(*sp, name, init, flags&spawnLink != 0, flags&spawnStdio != 0)
	if err != nil {
		c.P.CheckKilled()             // a kill that ended the child's start ends the caller too
		setResult(stack, c.Code(err)) // the handles never left the caller
		return
	}
	c.removeMoved(hs)
	h, err := c.P.Handles().Insert(kernel.Cap{Kind: kernel.KindProcess, Rights: kernel.AllProcessRights, Object: child})
	if err != nil {
		setResult(stack, c.Code(err))
		return
	}
	setResult(stack, int32(h))
}

func send(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "send")
	flags := u32(stack[6])
	if flags&^(sendNoBlock|sendCopy) != 0 {
		c.Misuse("unknown flags %#x", flags)
	}
	q, code := c.process(u32(stack[0]), kernel.RightSend)
	if code != 0 {
		setResult(stack, code)
		return
	}
	m, hs, code := c.message(u32(stack[1]), u32(stack[2]), u32(stack[3]), u32(stack[4]), u32(stack[5]), flags&sendCopy != 0)
	if code != 0 {
		setResult(stack, code)
		return
	}
	if err := c.P.Send(q, m, flags&sendNoBlock != 0); err != nil {
		setResult(stack, c.Code(err))
		return
	}
	if flags&sendCopy == 0 {
		c.removeMoved(hs)
	}
	setResult(stack, 0)
}

func recv(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "recv")
	buf, bufCap := u32(stack[0]), u32(stack[1])
	match, mask := u32(stack[2]), u32(stack[3])
	info := u32(stack[5])
	c.Bytes(info, 16) // check before blocking
	c.Bytes(buf, bufCap)
	m, aux, err := c.P.Receive(match, mask, timeout(stack[4]))
	if err != nil {
		setResult(stack, c.Code(err))
		return
	}
	setResult(stack, c.deliverTo(m, aux, buf, bufCap, info))
}

// deliverTo copies the current message m into the guest's buffer and info
// struct, returning its length or ETOOBIG if the buffer was short.
func (c Ctx) deliverTo(m *kernel.Message, aux, buf, bufCap, info uint32) int32 {
	n := uint32(len(m.Data))
	copy(c.Bytes(buf, min(n, bufCap)), m.Data)
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
	off, ptr, n := u32(stack[0]), u32(stack[1]), u32(stack[2])
	m := c.P.Current()
	if m == nil {
		c.Misuse("there is no current message")
	}
	if uint64(off) > uint64(len(m.Data)) {
		c.Misuse("offset %d is past the message's %d bytes", off, len(m.Data))
	}
	setResult(stack, int32(copy(c.Bytes(ptr, n), m.Data[off:])))
}

func msgHandles(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "msg_handles")
	ptr, capacity := u32(stack[0]), u32(stack[1])
	hs := c.P.CurrentHandles()
	b := c.Bytes(ptr, 4*min(capacity, uint32(len(hs))))
	for i := range min(int(capacity), len(hs)) {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(hs[i]))
	}
	setResult(stack, int32(len(hs)))
}

func callFn(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "call")
	q, code := c.process(u32(stack[0]), kernel.RightSend)
	if code != 0 {
		setResult(stack, code)
		return
	}
	buf, bufCap, info := u32(stack[6]), u32(stack[7]), u32(stack[9])
	c.Bytes(info, 16)
	c.Bytes(buf, bufCap)
	m, hs, code := c.message(u32(stack[1]), u32(stack[2]), u32(stack[3]), u32(stack[4]), u32(stack[5]), false)
	if code != 0 {
		setResult(stack, code)
		return
	}
	r, sent, err := c.P.Call(q, m, timeout(stack[8]))
	if sent {
		c.removeMoved(hs)
	}
	if err != nil {
		setResult(stack, c.Code(err))
		return
	}
	c.P.SetCurrent(r)
	setResult(stack, c.deliverTo(r, 0, buf, bufCap, info))
}

func reply(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "reply")
	h := u32(stack[0])
	c.Cap(h, kernel.KindReply)
	m, hs, code := c.message(u32(stack[1]), u32(stack[2]), u32(stack[3]), u32(stack[4]), u32(stack[5]), false)
	if code != 0 {
		setResult(stack, code)
		return
	}
	if err := c.P.Reply(kernel.Handle(h), m); err != nil {
		setResult(stack, c.Code(err))
		return
	}
	c.removeMoved(hs)
	setResult(stack, 0)
}

func inbox(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "inbox")
	ptr, n := u32(stack[0]), u32(stack[1])
	c.Bytes(ptr, n)
	c.P.SetInbox(ptr, n)
	setResult(stack, 0)
}

func closeFn(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "close")
	h := u32(stack[0])
	cp, ok := c.P.Handles().Remove(kernel.Handle(h))
	if !ok {
		c.Misuse("handle %d is not in the process's handle table", h)
	}
	cp.Release()
	setResult(stack, 0)
}

func kill(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "kill")
	q, code := c.process(u32(stack[0]), kernel.RightKill)
	if code != 0 {
		setResult(stack, code)
		return
	}
	if q.Ended() {
		setResult(stack, EGone)
		return
	}
	q.Kill("killed")
	setResult(stack, 0)
}

func exit(_ context.Context, _ api.Module, stack []uint64) {
	panic(sys.NewExitError(u32(stack[0])))
}

func link(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "link")
	q, code := c.process(u32(stack[0]), kernel.RightKill)
	if code != 0 {
		setResult(stack, code)
		return
	}
	if err := c.P.Link(q); err != nil {
		setResult(stack, c.Code(err))
		return
	}
	setResult(stack, 0)
}

func unlink(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "unlink")
	q := c.Cap(u32(stack[0]), kernel.KindProcess).Object.(kernel.Target)
	c.P.Unlink(q)
	setResult(stack, 0)
}

func monitor(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "monitor")
	q, code := c.process(u32(stack[0]), kernel.RightMonitor)
	if code != 0 {
		setResult(stack, code)
		return
	}
	ref, err := c.P.Monitor(q)
	if err != nil {
		setResult(stack, c.Code(err))
		return
	}
	setResult(stack, int32(ref))
}

func demonitor(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "demonitor")
	if !c.P.Demonitor(u32(stack[0])) {
		c.Misuse("%d is not an active monitor reference", u32(stack[0]))
	}
	setResult(stack, 0)
}

func trapExits(ctx context.Context, mod api.Module, stack []uint64) {
	c := Enter(ctx, mod, "trap_exits")
	on := u32(stack[0])
	if on > 1 {
		c.Misuse("argument %d is neither 0 nor 1", on)
	}
	prev := c.P.TrapExits(on == 1)
	if prev {
		setResult(stack, 1)
	} else {
		setResult(stack, 0)
	}
}

// timeout converts the ABI's i64 nanoseconds: negative is forever.
func timeout(v uint64) time.Duration {
	if int64(v) < 0 {
		return -1
	}
	return time.Duration(int64(v))
}
