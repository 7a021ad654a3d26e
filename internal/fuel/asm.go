package fuel

import "github.com/isle-run/isle/internal/wasm"

// Opcodes of the injected code that internal/wasm does not name.
const (
	opI32LtS        = 0x48
	opI32LtU        = 0x49
	opI32GtU        = 0x4b
	opI32LeU        = 0x4d
	opI64GtU        = 0x56
	opI32Add        = 0x6a
	opI32Sub        = 0x6b
	opI32Or         = 0x72
	opI32ShrU       = 0x76
	opI64Add        = 0x7c
	opI64Shl        = 0x86
	opI64ShrU       = 0x88
	opI64Or         = 0x84
	opI64ExtendI32S = 0xac
	opI64ExtendI32U = 0xad
	opMemorySize    = 0x3f
	opTableGet      = 0x25
	opTableSet      = 0x26
	opRefIsNull     = 0xd1

	miscMemoryInit = 8
	miscMemoryCopy = 10
	miscMemoryFill = 11
	miscTableInit  = 12
	miscTableCopy  = 14
	miscTableGrow  = 15
	miscTableSize  = 16
	miscTableFill  = 17
)

// asm appends the injected code, one instruction a method.
type asm struct{ b []byte }

func (a *asm) op(ops ...byte)        { a.b = append(a.b, ops...) }
func (a *asm) idx(op byte, i uint32) { a.b = wasm.AppendU32(append(a.b, op), i) }
func (a *asm) localGet(i uint32)     { a.idx(byte(wasm.OpLocalGet), i) }
func (a *asm) localSet(i uint32)     { a.idx(byte(wasm.OpLocalSet), i) }
func (a *asm) localTee(i uint32)     { a.idx(byte(wasm.OpLocalTee), i) }
func (a *asm) globalGet(i uint32)    { a.idx(byte(wasm.OpGlobalGet), i) }
func (a *asm) globalSet(i uint32)    { a.idx(byte(wasm.OpGlobalSet), i) }
func (a *asm) call(f uint32)         { a.idx(byte(wasm.OpCall), f) }
func (a *asm) i32(v int64)           { a.b = wasm.AppendS64(append(a.b, byte(wasm.OpI32Const)), v) }
func (a *asm) i64(v int64)           { a.b = wasm.AppendS64(append(a.b, byte(wasm.OpI64Const)), v) }
func (a *asm) end()                  { a.op(byte(wasm.OpEnd)) }

// misc appends a 0xfc instruction with its index immediates.
func (a *asm) misc(sub uint32, idx ...uint32) {
	a.b = wasm.AppendU32(append(a.b, wasm.PrefixMisc), sub)
	for _, i := range idx {
		a.b = wasm.AppendU32(a.b, i)
	}
}

// ifEmpty opens an if without results.
func (a *asm) ifEmpty() { a.op(byte(wasm.OpIf), 0x40) }

// charge subtracts from the fuel counter the i32 in local l, shifted
// right, less what was already charged.
func (a *asm) charge(fuel, l uint32, shift, charged int64) {
	a.globalGet(fuel)
	a.localGet(l)
	a.op(opI64ExtendI32U)
	if shift > 0 {
		a.i64(shift)
		a.op(opI64ShrU)
	}
	if charged > 0 {
		a.i64(charged)
		a.op(byte(wasm.OpI64Sub))
	}
	a.op(byte(wasm.OpI64Sub))
	a.globalSet(fuel)
}

// yieldIfNegative calls yield when the counter is below zero.
func (a *asm) yieldIfNegative(fuel, yield uint32) {
	a.globalGet(fuel)
	a.i64(0)
	a.op(byte(wasm.OpI64LtS))
	a.ifEmpty()
	a.call(yield)
	a.end()
}

// endSum pushes local x plus local n as an i64, which cannot wrap.
func (a *asm) endSum(x, n uint32) {
	a.localGet(x)
	a.op(opI64ExtendI32U)
	a.localGet(n)
	a.op(opI64ExtendI32U)
	a.op(opI64Add)
}
