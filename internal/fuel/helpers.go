package fuel

import (
	"github.com/isle-run/isle/internal/wasm"
)

// helperKind is the instruction an injected helper function stands for.
type helperKind uint8

const (
	helperMemoryFill helperKind = iota
	helperMemoryCopy
	helperMemoryInit
	helperTableFill
	helperTableCopy
	helperTableInit
	helperTableGrow
	helperEntrySlow // the slow path of the entry check of a function that calls
	helperLazyFill  // fills one slot of a lazy table (lazytable.go): a is its index in module.lazy, b 0 or a chunk + 1
)

// bulkKinds maps the 0xfc sub-opcodes the rewrite replaces to helpers.
var bulkKinds = map[uint32]helperKind{
	miscMemoryFill: helperMemoryFill, miscMemoryCopy: helperMemoryCopy, miscMemoryInit: helperMemoryInit,
	miscTableFill: helperTableFill, miscTableCopy: helperTableCopy, miscTableInit: helperTableInit,
	miscTableGrow: helperTableGrow,
}

// helperKey names one helper: what it does and the instruction's index
// immediates, so one helper serves every instruction with the same ones.
type helperKey struct {
	kind helperKind
	a, b uint32
}

// helper is one injected function.
type helper struct {
	key helperKey
	typ uint32
}

func (k helperKey) memory() bool { return k.kind <= helperMemoryInit }

// chunk and shift are a bulk kind's chunk size and fuel shift.
func (k helperKey) chunk() (int64, int64) {
	if k.memory() {
		return MemoryChunk, memoryFuelShift
	}
	return TableChunk, tableFuelShift
}

// floor is the length below which a bulk kind is charged as this long.
func (k helperKey) floor() int64 {
	if k.memory() {
		return MemoryChargeFloor
	}
	return TableChargeFloor
}

// cost is the fuel of a bulk operation of n bytes or entries, the
// instruction included.
func (k helperKey) cost(n int64) int64 {
	_, shift := k.chunk()
	return 1 + max(n, k.floor())>>shift
}

// opIndices are the immediates of the original instruction.
func (k helperKey) opIndices() []uint32 {
	switch k.kind {
	case helperMemoryFill, helperTableFill, helperTableGrow:
		return []uint32{k.a}
	}
	return []uint32{k.a, k.b}
}

var helperOps = [...]uint32{
	helperMemoryFill: miscMemoryFill, helperMemoryCopy: miscMemoryCopy, helperMemoryInit: miscMemoryInit,
	helperTableFill: miscTableFill, helperTableCopy: miscTableCopy, helperTableInit: miscTableInit,
	helperTableGrow: miscTableGrow,
}

// helperFor returns the function index of the helper for an instruction,
// adding the helper on first use.
func (mod *module) helperFor(k helperKey) uint32 {
	in := &mod.inj
	if i, ok := in.helperIndex[k]; ok {
		return i
	}
	i32 := wasm.I32
	var typ uint32
	switch k.kind {
	case helperTableFill:
		typ = mod.typeOf([]wasm.ValType{i32, mod.tableElems[k.a], i32}, nil)
	case helperTableGrow:
		typ = mod.typeOf([]wasm.ValType{mod.tableElems[k.a], i32}, []wasm.ValType{i32})
	case helperEntrySlow:
		typ = in.yieldType
	case helperLazyFill:
		typ = mod.typeOf([]wasm.ValType{i32}, nil)
	default:
		typ = mod.typeOf([]wasm.ValType{i32, i32, i32}, nil)
	}
	if in.helperIndex == nil {
		in.helperIndex = map[helperKey]uint32{}
	}
	i := in.helperBase + uint32(len(in.helpers))
	in.helpers = append(in.helpers, helper{key: k, typ: typ})
	in.helperIndex[k] = i
	return i
}

// The helpers' locals: parameters d (destination), x (source or value)
// and n (length), then i (offset done) and c (this chunk's length).
const (
	locD, locX, locN, locI, locC = 0, 1, 2, 3, 4
)

// helperBody is the code of a helper, local declarations included.
//
// A bulk helper is called for lengths above the charge floor, which the
// caller charged statically: it charges the rest. It runs an operation of
// at most a chunk as it is, charging it first. A longer one is first checked against the bounds that the
// original instruction checks; if it would trap, the original instruction
// runs and traps, having written nothing. Otherwise it is done a chunk at a
// time, each charged and followed by a yield, so the host gets control back
// at least every chunk. A copy to a higher address runs its chunks from the
// end, so that overlapping copies give what one memmove gives.
func (mod *module) helperBody(k helperKey) []byte {
	a := &asm{b: make([]byte, 0, 256)}
	switch k.kind {
	case helperTableGrow:
		mod.tableGrowBody(a, k)
		return a.b
	case helperEntrySlow:
		mod.entrySlowBody(a)
		return a.b
	case helperLazyFill:
		mod.lazyFillBody(a, k)
		return a.b
	}
	in := &mod.inj
	chunk, shift := k.chunk()
	floor := k.floor() >> shift // charged by the caller
	a.op(1, 2, byte(wasm.I32))  // locals i and c
	orig := func() {
		a.localGet(locD)
		a.localGet(locX)
		a.localGet(locN)
		a.misc(helperOps[k.kind], k.opIndices()...)
		a.op(byte(wasm.OpReturn))
	}
	// Fast path: one chunk at most.
	a.localGet(locN)
	a.i32(chunk)
	a.op(opI32LeU)
	a.ifEmpty()
	a.charge(in.fuelGlobal, locN, shift, floor)
	a.yieldIfNegative(in.fuelGlobal, in.yieldFunc)
	orig()
	a.end()
	// Out of bounds: the original traps before it writes anything.
	mod.outOfBounds(a, k)
	a.ifEmpty()
	orig()
	a.end()
	if k.kind == helperMemoryInit || k.kind == helperTableInit {
		// A zero-length copy from the end of the source traps exactly when
		// the segment (0 bytes long once dropped) is too short.
		a.i32(0)
		a.localGet(locX)
		a.localGet(locN)
		a.op(opI32Add)
		a.i32(0)
		a.misc(helperOps[k.kind], k.opIndices()...)
	}
	a.globalGet(in.fuelGlobal) // give back the floor: the chunks charge all
	a.i64(floor)
	a.op(opI64Add)
	a.globalSet(in.fuelGlobal)
	if k.kind == helperMemoryCopy || k.kind == helperTableCopy {
		a.localGet(locD)
		a.localGet(locX)
		a.op(opI32GtU)
		a.ifEmpty()
		mod.chunksBackward(a, k, chunk, shift)
		a.op(byte(wasm.OpReturn))
		a.end()
	}
	mod.chunksForward(a, k, chunk, shift)
	a.end()
	return a.b
}

// outOfBounds pushes whether the original instruction would trap on its
// bounds, computed in 64 bits so that no sum wraps. A segment's length
// cannot be read: its bound is probed after this.
func (mod *module) outOfBounds(a *asm, k helperKey) {
	size := func(memory bool, i uint32) {
		if memory {
			a.idx(opMemorySize, i)
			a.op(opI64ExtendI32U)
			a.i64(16)
			a.op(opI64Shl)
		} else {
			a.misc(miscTableSize, i)
			a.op(opI64ExtendI32U)
		}
	}
	dst := k.a
	if k.kind == helperMemoryInit || k.kind == helperTableInit {
		dst = k.b
	}
	a.endSum(locD, locN)
	size(k.memory(), dst)
	a.op(opI64GtU)
	switch k.kind {
	case helperMemoryCopy, helperTableCopy:
		a.endSum(locX, locN)
		size(k.memory(), k.b)
		a.op(opI64GtU)
		a.op(opI32Or)
	case helperMemoryInit, helperTableInit:
		a.endSum(locX, locN)
		a.i64(1<<32 - 1)
		a.op(opI64GtU)
		a.op(opI32Or)
	}
}

// chunkStep charges local c, yields, and runs the operation on c units
// from offset i.
func (mod *module) chunkStep(a *asm, k helperKey, shift int64) {
	in := &mod.inj
	a.charge(in.fuelGlobal, locC, shift, 0)
	a.call(in.yieldFunc)
	a.localGet(locD)
	a.localGet(locI)
	a.op(opI32Add)
	a.localGet(locX)
	if k.kind != helperMemoryFill && k.kind != helperTableFill {
		a.localGet(locI)
		a.op(opI32Add)
	}
	a.localGet(locC)
	a.misc(helperOps[k.kind], k.opIndices()...)
}

// chunksForward does [0, n) in chunks from the start.
func (mod *module) chunksForward(a *asm, k helperKey, chunk, shift int64) {
	a.op(byte(wasm.OpLoop), 0x40)
	// c = min(n-i, chunk)
	a.localGet(locN)
	a.localGet(locI)
	a.op(opI32Sub)
	a.localTee(locC)
	a.i32(chunk)
	a.localGet(locC)
	a.i32(chunk)
	a.op(opI32LtU)
	a.op(byte(wasm.OpSelect))
	a.localSet(locC)
	mod.chunkStep(a, k, shift)
	// i += c; again while i < n
	a.localGet(locI)
	a.localGet(locC)
	a.op(opI32Add)
	a.localTee(locI)
	a.localGet(locN)
	a.op(opI32LtU)
	a.idx(byte(wasm.OpBrIf), 0)
	a.end()
}

// chunksBackward does [0, n) in chunks from the end.
func (mod *module) chunksBackward(a *asm, k helperKey, chunk, shift int64) {
	a.localGet(locN)
	a.localSet(locI)
	a.op(byte(wasm.OpLoop), 0x40)
	// c = min(i, chunk); i -= c
	a.localGet(locI)
	a.i32(chunk)
	a.localGet(locI)
	a.i32(chunk)
	a.op(opI32LtU)
	a.op(byte(wasm.OpSelect))
	a.localSet(locC)
	a.localGet(locI)
	a.localGet(locC)
	a.op(opI32Sub)
	a.localSet(locI)
	mod.chunkStep(a, k, shift)
	a.localGet(locI)
	a.idx(byte(wasm.OpBrIf), 0)
	a.end()
}

// tableGrowBody asks the host before growing: its refusal is a failed
// grow, which a program must expect of any table.grow.
func (mod *module) tableGrowBody(a *asm, k helperKey) {
	in := &mod.inj
	a.op(0) // no locals
	a.localGet(1)
	a.call(in.tableGrowFunc)
	a.op(byte(wasm.OpIf), byte(wasm.I32))
	a.charge(in.fuelGlobal, 1, tableFuelShift, 0)
	a.yieldIfNegative(in.fuelGlobal, in.yieldFunc)
	a.localGet(0)
	a.localGet(1)
	a.misc(miscTableGrow, k.a)
	a.op(byte(wasm.OpElse))
	a.i32(-1)
	a.end()
	a.end()
}

// entrySlowBody calls yield if the counter is negative and stack if the
// stack budget is: the entry check of a function that calls tests both at
// once.
func (mod *module) entrySlowBody(a *asm) {
	in := &mod.inj
	a.op(0) // no locals
	a.yieldIfNegative(in.fuelGlobal, in.yieldFunc)
	a.globalGet(in.stackGlobal)
	a.i32(0)
	a.op(opI32LtS)
	a.ifEmpty()
	a.call(in.stackFunc)
	a.end()
	a.end()
}
