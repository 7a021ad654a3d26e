package fuel

import "github.com/isle-run/isle/internal/wasm"

// A loop's check calls yield only when the counter runs out, but a call
// anywhere in a loop costs the loop on every iteration: wazero's register
// allocator keeps in memory what lives across a call, so every value the
// loop carries went through the stack. So the check's call is hoisted out
// of the loop. A loop without parameters
//
//	loop bt
//	  <body>
//	end
//
// becomes
//
//	block bt                              ;; $exit
//	  loop bt                             ;; $again
//	    block                             ;; $yield
//	      loop bt                         ;; the loop itself
//	        <charge>; <counter < 0>; br_if $yield
//	        <body>
//	      end
//	      br $exit
//	    end
//	    call $yield
//	    <give back the charge>; br $again
//	  end
//	end
//
// The loop's own label is unchanged, and branches from inside it to
// labels outside it count three more (renumberBranch). After yield, the charge
// is given back, since the header charges it again when the loop is
// entered anew: the fuel spent and the points where yield is called are
// exactly those of the check with the call in place
// (TestHoistedYieldSpendsTheSame), provided yield leaves the counter at
// zero or above (or traps), as the host must. A loop with parameters
// keeps the call in place: its values would have to cross the yield.
// The frame estimate counts the results of the two constructs around
// the loop, and the merges of the loop's values where it is entered
// again, so a function with hoisted loops is estimated, and charged to
// the stack budget, a little more than before.
//
// wazero's compile time grows faster than the code: with the square of
// the nesting, and faster than linearly with the loops of a function
// (20,000 loops side by side took 64 s to compile with their calls in
// place, 161 s hoisted, in review). So only the outermost maxHoisted
// loops of a nest are hoisted, and the first maxHoistedPerFunction loops
// of a function; the others keep the call in place.
const (
	maxHoisted            = 8
	maxHoistedPerFunction = 64
)

// hoistDepth is how many labels a hoisted loop adds around its own.
const hoistDepth = 3

// hoists reports whether a loop of block type bt opened inside frame
// parent has its yield hoisted.
func (w *bodyRewriter) hoists(bt wasm.BlockType, parent *frame) bool {
	if w.mod.inPlace || parent.hoisted >= maxHoisted || w.hoistedHere >= maxHoistedPerFunction {
		return false
	}
	if t, ok := bt.TypeIndex(); ok {
		return len(w.mod.types[t].Params) == 0
	}
	return true
}

// resultCount is how many results a block of type bt has.
func (w *bodyRewriter) resultCount(bt wasm.BlockType) int {
	if t, ok := bt.TypeIndex(); ok {
		return len(w.mod.types[t].Results)
	}
	if bt == wasm.BlockEmpty {
		return 0
	}
	return 1
}

// renumberBranch patches a branch from inside hoisted loops to a label outside
// them: each loop it leaves adds hoistDepth labels between the two.
func (w *bodyRewriter) renumberBranch(in *wasm.Instr) {
	top := len(w.ctrl) - 1
	if w.ctrl[top].hoisted == 0 {
		return
	}
	depth := func(d uint32) uint32 {
		return d + hoistDepth*uint32(w.ctrl[top].hoisted-w.ctrl[top-int(d)].hoisted)
	}
	if in.Op != wasm.OpBrTable {
		if d := depth(in.Index); d != in.Index {
			w.edits = append(w.edits, edit{pos: in.IdxPos, end: in.End, kind: editIndex, val: d})
		}
		return
	}
	b := wasm.AppendU32(nil, uint32(len(in.Labels)))
	for _, l := range in.Labels {
		b = wasm.AppendU32(b, depth(l))
	}
	b = wasm.AppendU32(b, depth(in.Index))
	w.tables = append(w.tables, b)
	w.edits = append(w.edits, edit{pos: in.IdxPos, end: in.End, kind: editBrTable, val: uint32(len(w.tables) - 1)})
}

// hoistCode appends what a hoisted loop's edits of body insert: the
// three constructs opened before the loop, its check, and after its end
// what closes them and calls yield.
func (w *bodyRewriter) hoistCode(dst []byte, e *edit, body []byte) []byte {
	in := &w.mod.inj
	a := asm{b: dst}
	switch e.kind {
	case editHoistOpen:
		bt := body[e.pos+1 : e.pos+int(e.val)] // the loop's block type
		a.op(byte(wasm.OpBlock))
		a.op(bt...)
		a.op(byte(wasm.OpLoop))
		a.op(bt...)
		a.op(byte(wasm.OpBlock), 0x40)
	case editLoop:
		a.b = w.check.append(a.b, e.cost, true)
		a.globalGet(in.fuelGlobal)
		a.i64(0)
		a.op(byte(wasm.OpI64LtS))
		a.idx(byte(wasm.OpBrIf), 1)
	case editHoistClose:
		a.idx(byte(wasm.OpBr), 2)
		a.end()
		a.call(in.yieldFunc)
		a.globalGet(in.fuelGlobal)
		a.i64(e.cost)
		a.op(opI64Add)
		a.globalSet(in.fuelGlobal)
		a.idx(byte(wasm.OpBr), 0)
		a.end()
		a.end()
	}
	return a.b
}
