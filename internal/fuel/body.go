package fuel

import (
	"errors"
	"fmt"
	"io"

	"github.com/isle-run/isle/internal/wasm"
)

// edit is one change to a body, at a byte position of the original body.
type edit struct {
	pos  int
	end  int    // patches replace body[pos:end]; checks insert at pos
	val  uint32 // patches: the new function index
	cost int64  // checks: fuel charged, filled in once the scope is counted
	loop int32  // checks: the loop whose cost this is, or -1 for the entry
	// chargeOnly marks an entry check that only charges, without testing
	// the counter or calling yield: see resolveCosts.
	chargeOnly bool
}

// frame is one open block of the control stack.
type frame struct {
	scope int32 // the loop whose cost instructions in this block add to; -1 is the entry
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
}

// scan validates a body's indices and structure, counts the cost of each
// scope, and records the edits: checks at the entry and at loop headers,
// and renumbered function indices.
func (w *bodyRewriter) scan(body []byte, start int, locals uint64) error {
	w.ctrl = append(w.ctrl[:0], frame{scope: -1})
	w.loops = w.loops[:0]
	w.edits = append(w.edits[:0], edit{pos: start, end: start, loop: -1})
	var entry int64
	calls := false
	scope := int32(-1)
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
		switch in.Op {
		case wasm.OpEnd:
			w.ctrl = w.ctrl[:len(w.ctrl)-1]
			if len(w.ctrl) > 0 {
				scope = w.ctrl[len(w.ctrl)-1].scope
			} else {
				scope = -1
			}
		case wasm.OpBlock, wasm.OpIf:
			w.ctrl = append(w.ctrl, frame{scope: scope})
		case wasm.OpCallIndirect, wasm.OpReturnCallIndirect:
			calls = true
		case wasm.OpCall, wasm.OpReturnCall, wasm.OpRefFunc:
			calls = calls || in.Op != wasm.OpRefFunc
			if in.Index >= w.mod.counts.ImportedFuncs {
				w.edits = append(w.edits, edit{pos: in.IdxPos, end: in.End, val: in.Index + 1})
			}
		}
		// Charge the instruction to the scope it runs in. A loop's own
		// opcode and its end run once per entry, so they belong to the
		// enclosing scope.
		if scope < 0 {
			entry++
		} else {
			w.loops[scope]++
		}
		if in.Op == wasm.OpLoop {
			scope = int32(len(w.loops))
			w.loops = append(w.loops, 0)
			w.ctrl = append(w.ctrl, frame{scope: scope})
			w.edits = append(w.edits, edit{pos: in.End, end: in.End, loop: scope})
		}
	}
	w.resolveCosts(entry, !calls && len(w.loops) == 0)
	return nil
}

// resolveCosts fills in the cost of each check and drops the checks of
// empty loops: a loop without instructions cannot branch back to itself.
//
// A function with no loop and no call (a leaf) always finishes within its
// own static cost, so its entry only charges the counter: the next full
// check, in a caller or a loop, sees the debt. Keeping the yield call out
// of leaves saved most of the checks' cost on small, hot functions.
func (w *bodyRewriter) resolveCosts(entry int64, leaf bool) {
	out := w.edits[:0]
	for _, e := range w.edits {
		if e.isCheck() {
			if e.loop < 0 {
				e.cost, e.chargeOnly = entry, leaf
			} else if e.cost = w.loops[e.loop]; e.cost == 0 {
				continue
			}
		}
		out = append(out, e)
	}
	w.edits = out
}

func (e *edit) isCheck() bool { return e.pos == e.end && e.val == 0 }

// newLen is the length of the rewritten body.
func (w *bodyRewriter) newLen(body []byte) int {
	n := len(body)
	for i := range w.edits {
		e := &w.edits[i]
		if e.isCheck() {
			n += w.check.len(e.cost, e.chargeOnly)
		} else {
			n += max(wasm.U32Len(e.val), e.end-e.pos) - (e.end - e.pos)
		}
	}
	return n
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
		if e.isCheck() {
			dst = w.check.append(dst, e.cost, e.chargeOnly) // new bytes: no origin
		} else {
			// Keep the index as wide as it was, so most patches leave the
			// surrounding offsets, and the offset map, unbroken.
			at := len(dst)
			dst = wasm.AppendU32Width(dst, e.val, e.end-e.pos)
			om.add(at, oldBase+e.pos, min(len(dst)-at, e.end-e.pos))
		}
		last = e.end
	}
	om.add(len(dst), oldBase+last, len(body)-last)
	return append(dst, body[last:]...)
}

// checkCode is the injected check, split around its cost immediate:
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
	return len(c.head) + len(wasm.AppendS64(make([]byte, 0, 10), cost)) + len(c.tailOf(chargeOnly))
}

func (c *checkCode) append(dst []byte, cost int64, chargeOnly bool) []byte {
	dst = append(dst, c.head...)
	dst = wasm.AppendS64(dst, cost)
	return append(dst, c.tailOf(chargeOnly)...)
}
