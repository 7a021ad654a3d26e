package fuel

import (
	"fmt"

	"github.com/isle-run/isle/internal/wasm"
)

// scratchLocals are the locals a body's inline bulk checks use, appended
// after its own: d, x and n as i32, then x as funcref and as externref
// when a table.fill of that type needs it.
type scratchLocals struct {
	used, funcref, externref bool
	base                     uint32 // index of d
}

func (s *scratchLocals) d() uint32 { return s.base }
func (s *scratchLocals) n() uint32 { return s.base + 2 }

// x is the local for an instruction's second operand.
func (s *scratchLocals) x(t wasm.ValType) uint32 {
	switch t {
	case wasm.FuncRef:
		return s.base + 3
	case wasm.ExternRef:
		if s.funcref {
			return s.base + 4
		}
		return s.base + 3
	}
	return s.base + 1
}

// decls appends the declarations of the scratch locals.
func (s *scratchLocals) decls(dst []byte) []byte {
	dst = append(dst, 3, byte(wasm.I32))
	if s.funcref {
		dst = append(dst, 1, byte(wasm.FuncRef))
	}
	if s.externref {
		dst = append(dst, 1, byte(wasm.ExternRef))
	}
	return dst
}

func (s *scratchLocals) declCount() uint32 {
	n := uint32(1)
	if s.funcref {
		n++
	}
	if s.externref {
		n++
	}
	return n
}

// xType is the type of a bulk instruction's second operand.
func (mod *module) xType(k helperKey) wasm.ValType {
	if k.kind == helperTableFill {
		return mod.tableElems[k.a]
	}
	return wasm.I32
}

// scanBulk records a bulk instruction whose length is not a constant: it
// keeps its place behind an inline test of the length, and longer ones go
// to the helper.
func (w *bodyRewriter) scanBulk(in *wasm.Instr, k helperKey) {
	w.scratch.used = true
	switch w.mod.xType(k) {
	case wasm.FuncRef:
		w.scratch.funcref = true
	case wasm.ExternRef:
		w.scratch.externref = true
	}
	w.edits = append(w.edits, edit{pos: in.Pos, end: in.End, kind: editBulk, val: w.mod.helperFor(k)})
}

// addScratch declares the scratch locals of a body that needs them: its
// local declaration count is patched and the new declarations go after
// the others, ahead of the entry check.
func (w *bodyRewriter) addScratch(body []byte, start int, locals uint64) error {
	if !w.scratch.used {
		return nil
	}
	if locals+5 > 1<<32-1 {
		return fmt.Errorf("too many locals to add the bulk operations' own")
	}
	w.scratch.base = uint32(locals)
	w.est.values += 5
	n, p, _ := wasm.ReadU32(body, 0) // read when the locals were counted
	w.edits = append(w.edits, edit{}, edit{})
	copy(w.edits[2:], w.edits)
	w.edits[0] = edit{pos: 0, end: p, kind: editIndex, val: n + w.scratch.declCount()}
	w.edits[1] = edit{pos: start, end: start, kind: editLocals}
	return nil
}

// bulkCode appends the inline code that stands for a bulk instruction,
// its original bytes in the middle:
//
//	local.set n; local.set x; local.set d
//	local.get n; i32.const floor; i32.gt_u
//	if
//	  local.get d; local.get x; local.get n; call $helper
//	else
//	  local.get d; local.get x; local.get n; <the instruction>
//	end
//
// Up to the charge floor, the instruction runs as it was, charged
// statically as if it were of the floor's length: the common short copy
// costs a compare and a branch. It returns where the instruction's bytes
// start in dst.
func (w *bodyRewriter) bulkCode(dst []byte, e *edit, orig []byte) ([]byte, int) {
	in := &w.mod.inj
	k := in.helpers[e.val-in.helperBase].key
	s := &w.scratch
	x := s.x(w.mod.xType(k))
	a := asm{b: dst}
	a.localSet(s.n())
	a.localSet(x)
	a.localSet(s.d())
	a.localGet(s.n())
	a.i32(k.floor())
	a.op(opI32GtU)
	a.ifEmpty()
	args := func() {
		a.localGet(s.d())
		a.localGet(x)
		a.localGet(s.n())
	}
	args()
	a.call(e.val)
	a.op(byte(wasm.OpElse))
	args()
	at := len(a.b)
	a.op(orig...)
	a.end()
	return a.b, at
}
