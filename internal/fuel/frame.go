package fuel

import (
	"fmt"

	"github.com/isle-run/isle/internal/wasm"
)

// FrameBase is the part of every frame estimate that does not depend on
// the function's code: the return address and saved frame pointer, the
// callee-saved registers wazero's amd64 backend may spill (13 of 16
// bytes), and slack for the stack check and alignment.
const FrameBase = 16 + 13*16 + 32

// maxTrackedLocals bounds the per-local table of frameEstimate; defining a
// local beyond it counts as a definition in every enclosing construct.
const maxTrackedLocals = 1 << 16

// frameEstimate bounds from above how many bytes one activation of a
// function takes on wazero's call stack (see the package documentation).
// Its bound is a count of the values the compiled function may keep in
// stack slots: wazero gives every spilled SSA value a slot of its own for
// the whole function, so it counts the values the function can define.
type frameEstimate struct {
	values  int64 // SSA values: parameters, locals, results of instructions, merges
	argArea int64 // the largest call's parameters and results, in slots
	wide    bool  // a v128 is involved: slots of 16 bytes, not 8
	seq     int32 // constructs opened so far
	// lastDef holds, per local, seq at its last definition. A construct
	// opened before it and still open already has a merge for the local.
	lastDef []int32
}

// reset starts the estimate of a function with total locals besides its
// parameters, v128 ones among them if wide.
func (f *frameEstimate) reset(sig wasm.FuncType, total uint64, wide bool) {
	f.values = int64(len(sig.Params)+len(sig.Results)) + int64(total)
	f.argArea = 0
	f.wide = wide || hasV128(sig.Params) || hasV128(sig.Results)
	f.seq = 0
	n := int(min(total+uint64(len(sig.Params)), maxTrackedLocals))
	if cap(f.lastDef) < n {
		f.lastDef = make([]int32, n)
	}
	f.lastDef = f.lastDef[:n]
	clear(f.lastDef)
}

// localDecls reads a body's local declarations without keeping them: the
// number of locals, whether one is a v128, and where the code starts.
func localDecls(body []byte) (total uint64, wide bool, start int, err error) {
	n, p, err := wasm.ReadU32(body, 0)
	for i := uint32(0); i < n && err == nil; i++ {
		var c uint32
		if c, p, err = wasm.ReadU32(body, p); err == nil {
			if p >= len(body) {
				return 0, false, 0, fmt.Errorf("locals: %w", wasm.ErrUnexpectedEnd)
			}
			total += uint64(c)
			wide = wide || wasm.ValType(body[p]) == wasm.V128
			p++
		}
	}
	if err != nil {
		return 0, false, 0, fmt.Errorf("locals: %w", err)
	}
	if total > 1<<32-1 {
		return 0, false, 0, fmt.Errorf("locals: too many locals: %d", total)
	}
	return total, wide, p, nil
}

func hasV128(ts []wasm.ValType) bool {
	for _, t := range ts {
		if t == wasm.V128 {
			return true
		}
	}
	return false
}

// instr counts the value an ordinary instruction defines. Those that
// define none are not counted; the rest count one, a slight over-estimate.
func (f *frameEstimate) instr(op wasm.Opcode) {
	if op < 0x100 {
		f.values += int64(definesValue[op])
		return
	}
	f.values++
	f.wide = f.wide || op.Prefix() == wasm.PrefixSIMD
}

// definesValue is 1 for the one-byte opcodes that define a value: not
// control, calls (counted apart), drop, locals, global.set or stores.
var definesValue = func() (t [0x100]uint8) {
	for op := range t {
		switch {
		case op <= int(wasm.OpReturnCallIndirect), op == int(wasm.OpDrop),
			op >= int(wasm.OpLocalGet) && op <= int(wasm.OpLocalTee), op == int(wasm.OpGlobalSet),
			op >= 0x36 && op <= 0x3e:
		default:
			t[op] = 1
		}
	}
	return t
}()

// call counts a call's results and the stack it may pass them and the
// arguments on.
func (f *frameEstimate) call(t wasm.FuncType) {
	n := int64(len(t.Params) + len(t.Results))
	f.values += int64(len(t.Results))
	f.argArea = max(f.argArea, n)
	f.wide = f.wide || hasV128(t.Params) || hasV128(t.Results)
}

// open counts a block, loop or if: the values merged where it ends (or,
// for a loop, where it starts) for its parameters and results. It returns
// the construct's sequence number.
func (f *frameEstimate) open(n int) int32 {
	f.values += int64(n)
	f.seq++
	return f.seq - 1
}

// def counts a local.set or local.tee of local x: the merge values it can
// add to every enclosing construct that did not yet define x. open holds
// the sequence numbers of the open constructs, outermost first.
func (f *frameEstimate) def(x uint32, open []frame) {
	first := 0
	if int(x) < len(f.lastDef) {
		// The first open construct opened after the last definition: the
		// sequence numbers rise from the outermost.
		last := f.lastDef[x]
		hi := len(open)
		for first < hi {
			mid := int(uint(first+hi) >> 1)
			if open[mid].seq < last {
				first = mid + 1
			} else {
				hi = mid
			}
		}
		f.lastDef[x] = f.seq
	}
	n := len(open) - first
	if n > 0 {
		// A loop with a hoisted yield is entered from two places, each a
		// merge (hoist.go).
		outside := int32(0)
		if first > 0 {
			outside = open[first-1].hoisted
		}
		n += int(open[len(open)-1].hoisted - outside)
	}
	f.values += int64(n)
}

// size is the estimate in bytes.
func (f *frameEstimate) size() int64 {
	slot := int64(8)
	if f.wide {
		slot = 16
	}
	return min(FrameBase+slot*(f.values+f.argArea), MaxFrame)
}
