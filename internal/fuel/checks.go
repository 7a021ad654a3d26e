package fuel

import "github.com/isle-run/isle/internal/wasm"

// checkCode is the injected fuel check, split around its cost immediate:
//
//	global.get $fuel; i64.const cost; i64.sub; global.set $fuel
//	global.get $fuel; i64.const 0; i64.lt_s; if (empty) call $yield end
//
// A charge-only check stops after the global.set.
type checkCode struct {
	head, tail []byte
	charge     int // len(tail) of a charge-only check
}

func newCheckCode(fuelGlobal, yieldFunc uint32) checkCode {
	head := []byte{byte(wasm.OpGlobalGet)}
	head = wasm.AppendU32(head, fuelGlobal)
	head = append(head, byte(wasm.OpI64Const))
	tail := []byte{byte(wasm.OpI64Sub), byte(wasm.OpGlobalSet)}
	tail = wasm.AppendU32(tail, fuelGlobal)
	charge := len(tail)
	tail = append(tail, byte(wasm.OpGlobalGet))
	tail = wasm.AppendU32(tail, fuelGlobal)
	tail = append(tail, byte(wasm.OpI64Const), 0, byte(wasm.OpI64LtS),
		byte(wasm.OpIf), byte(0x40), byte(wasm.OpCall))
	tail = wasm.AppendU32(tail, yieldFunc)
	tail = append(tail, byte(wasm.OpEnd))
	return checkCode{head: head, tail: tail, charge: charge}
}

func (c *checkCode) tailOf(chargeOnly bool) []byte {
	if chargeOnly {
		return c.tail[:c.charge]
	}
	return c.tail
}

func (c *checkCode) len(cost int64, chargeOnly bool) int {
	return len(c.head) + s64Len(cost) + len(c.tailOf(chargeOnly))
}

func (c *checkCode) append(dst []byte, cost int64, chargeOnly bool) []byte {
	dst = append(dst, c.head...)
	dst = wasm.AppendS64(dst, cost)
	return append(dst, c.tailOf(chargeOnly)...)
}

// s64Len is the length of the signed LEB128 encoding of v.
func s64Len(v int64) int {
	var buf [10]byte
	return len(wasm.AppendS64(buf[:0], v))
}

// stackCode is the injected stack accounting, split around the frame size
// immediate. Entering a function that calls, after the fuel check has
// charged without testing the counter:
//
//	global.get $stack; i32.const frame; i32.sub; global.set $stack
//	global.get $fuel; global.get $stack; i64.extend_i32_s; i64.or
//	i64.const 0; i64.lt_s; if (empty) call $entrySlow end
//
// one test for both: the or is negative when either is. $entrySlow calls
// yield and stack as they are due. Leaving, before the final end, a
// return or a tail call:
//
//	global.get $stack; i32.const frame; i32.add; global.set $stack
type stackCode struct {
	head, enterTail, leaveTail []byte
}

func newStackCode(stackGlobal, fuelGlobal, entrySlow uint32) stackCode {
	head := []byte{byte(wasm.OpGlobalGet)}
	head = wasm.AppendU32(head, stackGlobal)
	head = append(head, byte(wasm.OpI32Const))
	a := asm{b: []byte{opI32Sub}}
	a.globalSet(stackGlobal)
	a.globalGet(fuelGlobal)
	a.globalGet(stackGlobal)
	a.op(opI64ExtendI32S, opI64Or)
	a.i64(0)
	a.op(byte(wasm.OpI64LtS))
	a.ifEmpty()
	a.call(entrySlow)
	a.end()
	leave := []byte{opI32Add, byte(wasm.OpGlobalSet)}
	leave = wasm.AppendU32(leave, stackGlobal)
	return stackCode{head: head, enterTail: a.b, leaveTail: leave}
}

func (s *stackCode) enterLen(frame int64) int { return len(s.head) + s64Len(frame) + len(s.enterTail) }
func (s *stackCode) leaveLen(frame int64) int { return len(s.head) + s64Len(frame) + len(s.leaveTail) }

func (s *stackCode) enter(dst []byte, frame int64) []byte {
	return append(wasm.AppendS64(append(dst, s.head...), frame), s.enterTail...)
}

func (s *stackCode) leave(dst []byte, frame int64) []byte {
	return append(wasm.AppendS64(append(dst, s.head...), frame), s.leaveTail...)
}
