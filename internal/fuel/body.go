package fuel

import (
	"errors"
	"fmt"
	"io"

	"github.com/isle-run/isle/internal/wasm"
)

// editKind says what an edit inserts or replaces.
type editKind uint8

const (
	// editEntry inserts at the body's start the entry fuel check and, in
	// a function that calls, the stack check, then the opening of the
	// block that wraps the body if a branch targets the function's label.
	editEntry      editKind = iota
	editLoop                // inserts a fuel check after a loop opcode
	editIndex               // replaces a u32 immediate (a function index, a count) with val
	editCall                // replaces an instruction with a call of helper val
	editBulk                // puts a bulk instruction behind a test of its length, longer ones going to helper val
	editLocals              // inserts the declarations of the scratch locals
	editLeave               // inserts before a return or tail call: the frame is given back
	editExit                // inserts before the final end: the wrapping block's end, the frame given back
	editLazy                // inserts before a call_indirect on lazy table val its slot's fill (lazytable.go)
	editBrTable             // replaces a br_table's labels with tables[val] (hoist.go)
	editHoistOpen           // inserts before a loop the constructs its hoisted yield needs; val is the loop instruction's length
	editHoistClose          // inserts after a loop's end its hoisted yield
)

// edit is one change to a body, at a byte position of the original body.
type edit struct {
	pos  int
	end  int // replacements replace body[pos:end]; insertions have end == pos
	kind editKind
	val  uint32
	loop int32 // editLoop: the loop whose cost this is
	cost int64 // editEntry, editLoop: fuel charged, filled in once the scope is counted
}

// frame is one open block of the control stack.
type frame struct {
	scope int32 // the loop whose cost instructions in this block add to; -1 is the entry
	seq   int32 // the construct's number, for the frame estimate
	// hoisted counts the loops with a hoisted yield (hoist.go) among this
	// construct and those around it.
	hoisted int32
}

// bodyRewriter scans and rewrites function bodies. Its slices are reused
// from one body to the next.
type bodyRewriter struct {
	mod   *module
	r     wasm.Reader
	in    wasm.Instr
	ctrl  []frame
	loops []int64 // cost of each loop, by order of appearance
	edits []edit
	check checkCode
	stack stackCode
	est   frameEstimate
	tmp   []byte // scratch for measuring injected code
	// tables are the renumbered labels of the body's br_tables (hoist.go).
	tables [][]byte
	// hoistedHere counts the body's loops with a hoisted yield.
	hoistedHere int

	// Per body, once scanned:
	calls      bool   // the body calls: it accounts its frame
	wrap       bool   // a branch targets the function's label: the body is wrapped
	chargeOnly bool   // the entry check only charges: see resolve
	frameSize  int64  // the frame estimate charged to the stack budget
	wrapType   []byte // block type of the wrapping block
	scratch    scratchLocals
}

// scan validates a body's indices and structure, counts the cost of each
// scope, estimates the frame, and records the edits.
func (w *bodyRewriter) scan(body []byte, start int, locals uint64, sig wasm.FuncType) error {
	w.ctrl = append(w.ctrl[:0], frame{scope: -1})
	w.loops = w.loops[:0]
	w.edits = append(w.edits[:0], edit{pos: start, end: start, kind: editEntry})
	w.tables = w.tables[:0]
	w.hoistedHere = 0
	w.calls, w.wrap = false, false
	w.scratch = scratchLocals{}
	var entry int64
	scope := int32(-1)
	var prevConst bool // the previous instruction was an i32.const
	var constVal uint32
	w.r.Reset(body)
	w.r.Seek(start)
	in := &w.in
	for {
		if len(w.ctrl) == 0 {
			if w.r.Pos() != len(body) {
				return fmt.Errorf("%d bytes after the end of the body", len(body)-w.r.Pos())
			}
			break
		}
		if err := w.r.Next(in); err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("body ends inside %d open blocks", len(w.ctrl))
			}
			return err
		}
		if err := w.mod.checkInstr(in, locals, len(w.ctrl)); err != nil {
			return fmt.Errorf("%w, at body offset %d", err, in.Pos)
		}
		cost := int64(1)
		switch in.Op {
		case wasm.OpEnd:
			if f := w.ctrl[len(w.ctrl)-1]; f.hoisted > w.ctrl[max(len(w.ctrl)-2, 0)].hoisted {
				w.edits = append(w.edits, edit{pos: in.End, end: in.End, kind: editHoistClose, loop: f.scope})
			}
			w.ctrl = w.ctrl[:len(w.ctrl)-1]
			if len(w.ctrl) > 0 {
				scope = w.ctrl[len(w.ctrl)-1].scope
			} else {
				scope = -1
				if w.calls {
					w.edits = append(w.edits, edit{pos: in.Pos, end: in.Pos, kind: editExit})
				}
			}
		case wasm.OpBlock, wasm.OpIf:
			w.ctrl = append(w.ctrl, frame{scope: scope, seq: w.est.open(w.blockArity(in.Block)), hoisted: w.ctrl[len(w.ctrl)-1].hoisted})
		case wasm.OpReturn:
			w.edits = append(w.edits, edit{pos: in.Pos, end: in.Pos, kind: editLeave})
		case wasm.OpBr, wasm.OpBrIf, wasm.OpBrTable:
			w.wrap = w.wrap || w.toFunction(in)
			w.renumberBranch(in)
		case wasm.OpCall, wasm.OpReturnCall, wasm.OpCallIndirect, wasm.OpReturnCallIndirect:
			w.scanCall(in)
			if in.Op != wasm.OpCallIndirect && in.Op != wasm.OpReturnCallIndirect && in.Index < w.mod.counts.ImportedFuncs {
				cost = HostCallFuel
			}
		case wasm.OpRefFunc:
			w.renumber(in)
		case wasm.OpLocalSet, wasm.OpLocalTee:
			w.est.def(in.Index, w.ctrl[1:])
		default:
			if in.Op.Prefix() == wasm.PrefixMisc {
				cost = w.scanMisc(in, prevConst, constVal)
			}
		}
		w.est.instr(in.Op)
		prevConst, constVal = in.Op == wasm.OpI32Const, uint32(in.Int)
		// Charge the instruction to the scope it runs in. A loop's own
		// opcode and its end run once per entry, so they belong to the
		// enclosing scope.
		if scope < 0 {
			entry += cost
		} else {
			w.loops[scope] += cost
		}
		if in.Op == wasm.OpLoop {
			w.openLoop(in)
			scope = w.ctrl[len(w.ctrl)-1].scope
		}
	}
	w.resolve(entry, sig)
	if err := w.addScratch(body, start, locals); err != nil {
		return err
	}
	w.frameSize = w.est.size() // with the scratch locals
	return nil
}

// openLoop opens a loop's frame and scope and records its check, with
// its yield hoisted out of it if it can be (hoist.go).
func (w *bodyRewriter) openLoop(in *wasm.Instr) {
	parent := &w.ctrl[len(w.ctrl)-1]
	f := frame{scope: int32(len(w.loops)), hoisted: parent.hoisted}
	w.loops = append(w.loops, 0)
	if w.hoists(in.Block, parent) {
		f.hoisted++
		w.hoistedHere++
		n := w.resultCount(in.Block)
		w.est.open(n) // the block that leaves it
		w.est.open(n) // the loop that enters it again
		w.edits = append(w.edits, edit{pos: in.Pos, end: in.Pos, kind: editHoistOpen, loop: f.scope, val: uint32(in.End - in.Pos)})
	}
	f.seq = w.est.open(w.blockArity(in.Block))
	w.ctrl = append(w.ctrl, f)
	w.edits = append(w.edits, edit{pos: in.End, end: in.End, kind: editLoop, loop: f.scope, val: uint32(f.hoisted - parent.hoisted)})
}

// scanCall records what a call needs: its index renumbered, the frame
// given back before a tail call, and the call in the frame estimate.
func (w *bodyRewriter) scanCall(in *wasm.Instr) {
	w.calls = true
	if in.Op == wasm.OpReturnCall || in.Op == wasm.OpReturnCallIndirect {
		w.edits = append(w.edits, edit{pos: in.Pos, end: in.Pos, kind: editLeave})
	}
	if in.Op == wasm.OpCall || in.Op == wasm.OpReturnCall {
		w.est.call(w.mod.funcType(in.Index))
		w.renumber(in)
	} else {
		w.est.call(w.mod.types[in.Index])
		if w.mod.lazyOf(in.Index2) != nil {
			w.scratch.used = true
			w.edits = append(w.edits, edit{pos: in.Pos, end: in.Pos, kind: editLazy, val: in.Index2})
		}
	}
}

// toFunction reports whether a branch can target the function's label,
// which leaves the function as a return does but from the middle of an
// expression, where nothing can be inserted before it. Such a body is
// wrapped in a block, which the branch then leaves instead.
func (w *bodyRewriter) toFunction(in *wasm.Instr) bool {
	fn := uint32(len(w.ctrl) - 1)
	if in.Index == fn {
		return true
	}
	if in.Op == wasm.OpBrTable {
		for _, l := range in.Labels {
			if l == fn {
				return true
			}
		}
	}
	return false
}

// renumber patches a function index that the injected imports moved.
func (w *bodyRewriter) renumber(in *wasm.Instr) {
	if in.Index >= w.mod.counts.ImportedFuncs {
		w.edits = append(w.edits, edit{pos: in.IdxPos, end: in.End, kind: editIndex, val: w.mod.funcIndex(in.Index)})
	}
}

// scanMisc records the rewrite of bulk operations and table.grow, and
// returns the instruction's static cost. A bulk operation whose length is
// a constant of at most a chunk is left as it is and charged statically.
func (w *bodyRewriter) scanMisc(in *wasm.Instr, prevConst bool, n uint32) int64 {
	kind, ok := bulkKinds[in.Op.Sub()]
	if !ok {
		return 1
	}
	k := helperKey{kind: kind, a: in.Index, b: in.Index2}
	if kind == helperTableGrow {
		w.edits = append(w.edits, edit{pos: in.Pos, end: in.End, kind: editCall, val: w.mod.helperFor(k)})
		return 1
	}
	if chunk, _ := k.chunk(); prevConst && int64(n) <= chunk {
		return k.cost(int64(n))
	}
	w.scanBulk(in, k)
	return k.cost(0)
}

// blockArity is how many values a block type merges: its parameters and
// results.
func (w *bodyRewriter) blockArity(b wasm.BlockType) int {
	if t, ok := b.TypeIndex(); ok {
		ft := w.mod.types[t]
		return len(ft.Params) + len(ft.Results)
	}
	if b == wasm.BlockEmpty {
		return 0
	}
	return 1
}

// resolve fills in the cost of each check, drops the checks of empty
// loops (a loop without instructions cannot branch back to itself), and
// drops the stack accounting of functions that do not call.
//
// A function with no loop and no call (a leaf) always finishes within its
// own static cost, so its entry only charges the counter: the next full
// check, in a caller or a loop, sees the debt. Keeping the yield call out
// of leaves saved most of the checks' cost on small, hot functions. A leaf
// needs no stack accounting either: its frame is bounded, and it is never
// more than one deep.
func (w *bodyRewriter) resolve(entry int64, sig wasm.FuncType) {
	w.chargeOnly = !w.calls && len(w.loops) == 0
	w.wrap = w.wrap && w.calls
	if w.wrap {
		w.wrapType = w.mod.blockTypeOf(sig.Results, w.wrapType[:0])
	}
	out := w.edits[:0]
	for _, e := range w.edits {
		switch e.kind {
		case editEntry:
			e.cost = entry
		case editLoop, editHoistOpen, editHoistClose:
			// A loop without instructions cannot branch back to itself,
			// and none branches out of it: it needs no check.
			if e.cost = w.loops[e.loop]; e.cost == 0 {
				continue
			}
		case editLeave:
			if !w.calls {
				continue
			}
		}
		out = append(out, e)
	}
	w.edits = out
}

// blockTypeOf appends the block type of a block with no parameters and
// these results.
func (mod *module) blockTypeOf(results []wasm.ValType, dst []byte) []byte {
	switch len(results) {
	case 0:
		return append(dst, 0x40)
	case 1:
		return append(dst, byte(results[0]))
	}
	return wasm.AppendS64(dst, int64(mod.typeOf(nil, results)))
}

// newLen is the length of the rewritten body.
func (w *bodyRewriter) newLen(body []byte) int {
	n := len(body)
	for i := range w.edits {
		e := &w.edits[i]
		n += w.injectLen(e, body) - (e.end - e.pos)
	}
	return n
}

// injectLen is the length of what an edit writes.
func (w *bodyRewriter) injectLen(e *edit, body []byte) int {
	switch e.kind {
	case editEntry:
		n := w.check.len(e.cost, w.chargeOnly || w.calls)
		if w.calls {
			n += w.stack.enterLen(w.frameSize)
		}
		if w.wrap {
			n += 1 + len(w.wrapType)
		}
		return n
	case editLoop, editHoistOpen, editHoistClose:
		if e.kind == editLoop && e.val == 0 {
			return w.check.len(e.cost, false)
		}
		w.tmp = w.hoistCode(w.tmp[:0], e, body)
		return len(w.tmp)
	case editBrTable:
		return len(w.tables[e.val])
	case editIndex:
		return max(wasm.U32Len(e.val), e.end-e.pos)
	case editCall:
		return 1 + wasm.U32Len(e.val)
	case editBulk:
		b, _ := w.bulkCode(w.tmp[:0], e, nil)
		w.tmp = b
		return len(b) + e.end - e.pos
	case editLocals:
		return len(w.scratch.decls(w.tmp[:0]))
	case editLazy:
		w.tmp = w.lazyCode(w.tmp[:0], w.mod.lazyOf(e.val))
		return len(w.tmp)
	case editLeave:
		return w.stack.leaveLen(w.frameSize)
	case editExit:
		if w.wrap {
			return 1 + w.stack.leaveLen(w.frameSize)
		}
		return w.stack.leaveLen(w.frameSize)
	}
	panic("unknown edit")
}

// emit appends the rewritten body to dst, the new code section payload,
// recording in om where each copied byte came from. oldBase is the body's
// offset in the original payload.
func (w *bodyRewriter) emit(dst []byte, body []byte, oldBase int, om *OffsetMap) []byte {
	last := 0
	for i := range w.edits {
		e := &w.edits[i]
		om.add(len(dst), oldBase+last, e.pos-last)
		dst = append(dst, body[last:e.pos]...)
		at := len(dst)
		switch e.kind {
		case editEntry:
			dst = w.check.append(dst, e.cost, w.chargeOnly || w.calls)
			if w.calls {
				dst = w.stack.enter(dst, w.frameSize)
			}
			if w.wrap {
				dst = append(append(dst, byte(wasm.OpBlock)), w.wrapType...)
			}
		case editLoop, editHoistOpen, editHoistClose:
			if e.kind == editLoop && e.val == 0 {
				dst = w.check.append(dst, e.cost, false)
			} else {
				dst = w.hoistCode(dst, e, body)
			}
		case editBrTable:
			dst = append(dst, w.tables[e.val]...)
		case editIndex:
			// Keep the index as wide as it was, so most patches leave the
			// surrounding offsets, and the offset map, unbroken.
			dst = wasm.AppendU32Width(dst, e.val, e.end-e.pos)
		case editCall:
			dst = wasm.AppendU32(append(dst, byte(wasm.OpCall)), e.val)
		case editBulk:
			var op int
			dst, op = w.bulkCode(dst, e, body[e.pos:e.end])
			// The instruction is copied: map it, so traces point at it.
			om.add(op, oldBase+e.pos, e.end-e.pos)
			last = e.end
			continue
		case editLocals:
			dst = w.scratch.decls(dst)
		case editLazy:
			dst = w.lazyCode(dst, w.mod.lazyOf(e.val))
		case editLeave:
			dst = w.stack.leave(dst, w.frameSize)
		case editExit:
			if w.wrap {
				dst = append(dst, byte(wasm.OpEnd))
			}
			dst = w.stack.leave(dst, w.frameSize)
		}
		if e.end > e.pos {
			// A replacement stands where the original instruction or
			// immediate was: map it there, so traces point at it.
			om.add(at, oldBase+e.pos, min(len(dst)-at, e.end-e.pos))
		}
		last = e.end
	}
	om.add(len(dst), oldBase+last, len(body)-last)
	return append(dst, body[last:]...)
}
