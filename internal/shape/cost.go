package shape

import (
	"math"
	"math/bits"

	"github.com/isle-run/isle/internal/wasm"
)

// fnCost estimates what wazero's compiler spends on one function, in work
// units of about a nanosecond of compile CPU on the machine the weights
// were measured on (weights.go). Each part is an upper bound for a shape
// of code measured to cost that much:
//
//   - a base cost per function, every instruction's own weight (from
//     nothing for nop to tens of microseconds for call_indirect or
//     memory.copy) and every br_table target's;
//   - every value a call, branch or block boundary moves, which costs about
//     as much as an instruction;
//   - the dominator walks: wazero walks the dominator tree from every
//     basic block (loop detection, loop nesting forest, dominators), and a
//     chain of blocks, nested or one after another, makes each walk as long
//     as the chain so far. Each block counts the blocks made before it; a
//     br_table's trampoline blocks hang off the br_table's own;
//   - for every block, loop and if, the square of the values that may
//     meet where it ends or loops back: wazero's redundant-phi pass
//     re-resolves all of a branch's arguments for each of its parameters.
//     A local read inside n nested loops becomes a parameter of each of
//     them, so the parameters are counted as the locals accessed inside,
//     capped at the function's locals, plus the label's own values.
type fnCost struct {
	locals   uint64 // params and declared locals
	results  uint32 // the function's results
	accesses uint64 // local.get, local.set and local.tee so far
	linear   uint64 // base, instructions and br_table targets
	targets  uint64 // br_table targets
	targetSq uint64 // sum over br_tables of their targets squared
	values   uint64 // values moved
	blocks   uint64 // basic blocks so far, fuel checks included
	dom      uint64 // sum over blocks of the blocks before each
	phiSq    uint64 // sum over labels of their parameters squared
}

// Basic blocks wazero builds for each instruction that starts some. isle
// compiles the fuel-instrumented module, which adds an if (three blocks)
// to every function entry and every loop header.
const (
	blocksEntry     = 1 + fuelCheckBlocks
	blocksLoop      = 2 + fuelCheckBlocks
	blocksIf        = 3
	blocksFill      = 3 // memory.fill and table.fill become a loop
	fuelCheckBlocks = 3
)

// enter starts a function with the given results.
func (c *fnCost) enter(results uint32) {
	c.results = results
	c.linear = costFunction
	c.addBlocks(blocksEntry)
}

// addBlocks adds n new blocks, each after all the blocks so far.
func (c *fnCost) addBlocks(n int) {
	for ; n > 0; n-- {
		c.dom = satAdd(c.dom, c.blocks)
		c.blocks++
	}
}

// op adds an instruction's own weight and the blocks it starts.
func (c *fnCost) op(op wasm.Opcode) {
	c.linear += uint64(weight(op))
	switch op {
	case wasm.OpBlock, wasm.OpBrIf:
		c.addBlocks(1)
	case wasm.OpLoop:
		c.addBlocks(blocksLoop)
	case wasm.OpIf:
		c.addBlocks(blocksIf)
	case opMemoryFill, opTableFill:
		c.addBlocks(blocksFill)
	}
}

const (
	opMemoryFill = wasm.PrefixMisc<<16 | 11
	opTableFill  = wasm.PrefixMisc<<16 | 17
)

// targets adds n br_table targets: a trampoline block each, dominated by
// the br_table's block.
func (c *fnCost) brTable(n uint64) {
	c.targets += n
	c.targetSq = satAdd(c.targetSq, satMul(n, n))
	c.linear = satAdd(c.linear, satMul(n, costTarget))
	c.linear = satAdd(c.linear, satMul(n, n)/costTargetSqDiv)
	c.dom = satAdd(c.dom, satMul(n, c.blocks))
}

// call adds the values a call moves.
func (c *fnCost) call(a arity) { c.values += uint64(a.params) + uint64(a.results) }

// merge adds the parameters that may meet at the end of label l.
func (c *fnCost) merge(l label) {
	p := min(c.locals, c.accesses-l.accessed) + uint64(l.values)
	c.phiSq = satAdd(c.phiSq, satMul(p, p))
}

// work is the estimate, saturating instead of overflowing.
func (c *fnCost) work() uint64 {
	w := satAdd(c.linear, satMul(c.values, costValue))
	w = satAdd(w, satMul(c.dom, costBlock))
	return satAdd(w, satMul(c.phiSq, costPhi))
}

func satAdd(a, b uint64) uint64 {
	if s, carry := bits.Add64(a, b, 0); carry == 0 {
		return s
	}
	return math.MaxUint64
}

func satMul(a, b uint64) uint64 {
	if hi, lo := bits.Mul64(a, b); hi == 0 {
		return lo
	}
	return math.MaxUint64
}

// weight is the measured weight of one instruction.
func weight(op wasm.Opcode) uint32 {
	switch sub := op.Sub(); op.Prefix() {
	case 0:
		return weightMVP[sub&0xff]
	case wasm.PrefixMisc:
		if sub < uint32(len(weightMisc)) {
			return weightMisc[sub]
		}
	case wasm.PrefixSIMD:
		if sub < uint32(len(weightSIMD)) {
			return weightSIMD[sub]
		}
	}
	return 0
}
