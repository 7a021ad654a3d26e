package fuel

import (
	"fmt"

	"github.com/isle-run/isle/internal/wasm"
)

// # Lazy tables
//
// wazero fills a table from its active element segments at every
// instantiation, evaluating each element and allocating a function
// reference for it: about 2,000 of them for a Go module, over 300 µs of
// every spawn, although a Go reactor's first reply calls a few dozen
// through the table. So a large function table that the guest can reach
// only through call_indirect is filled on first use instead:
//
//   - its active segments become declarative ones, which instantiation
//     skips but which still declare their functions for ref.func;
//   - before every call_indirect on it, inline code checks whether the
//     slot is one a segment would have filled and is still null, and if
//     so calls a helper that stores the slot's ref.func with table.set;
//   - the call_indirect then runs as before, with the same checks and
//     traps: an index outside the segments, or a slot they leave null,
//     stays null.
//
// Nothing else can read the table, so no guest can tell the difference.
// That is what eligibility guarantees: the table is the module's own
// (not imported), not exported, of funcref, and the module uses no table
// instruction at all (table.get, set, size, grow, fill, copy, init,
// elem.drop); its segments have constant offsets, in bounds of the
// table's initial size, and elements that are ref.func or ref.null.
// Smaller tables (fewer than LazyTableMin entries) stay as they were: the
// check costs every indirect call a compare and a load, which is only
// worth it where instantiation would do real work.
//
// The rewrite records each lazy table in the custom section
// LazyTablesSection, so that the host can find the functions that write
// to it (an image snapshot must know that only these do) and the slot a
// function was given (a Go command's image is cut at main.main's slot).

// LazyTablesSection is the custom section that lists the lazy tables of a
// rewritten module. A module that already has one is refused.
const LazyTablesSection = "isle:lazy-tables"

// LazyTableMin is the number of initialised slots from which a table is
// filled lazily. Tests lower it to cover small modules.
var LazyTableMin = 256

// LazyTable is one table that the rewrite fills lazily.
type LazyTable struct {
	Table uint32 // the table's index
	// Fills are every function that writes the table: first the one that
	// fills a slot, (i32) -> (), then the helpers it calls for a table of
	// several chunks.
	Fills []uint32
	Lo    uint32 // the first slot a segment initialised
	// Funcs are the slots from Lo on: the function index (in the
	// rewritten module) plus one that a segment put there, 0 for null.
	Funcs []uint32
}

// Slot returns the first slot that holds function f, if any.
func (t *LazyTable) Slot(f uint32) (uint32, bool) {
	for i, g := range t.Funcs {
		if g == f+1 {
			return t.Lo + uint32(i), true
		}
	}
	return 0, false
}

// tableOps are the instructions that reach a table other than through
// call_indirect: a module using any of them keeps its tables eager.
var tableOps = map[wasm.Opcode]bool{
	0x25: true, 0x26: true, // table.get, table.set
	wasm.PrefixMisc<<16 | miscTableInit: true, wasm.PrefixMisc<<16 | 13: true, // table.init, elem.drop
	wasm.PrefixMisc<<16 | miscTableCopy: true, wasm.PrefixMisc<<16 | miscTableGrow: true,
	wasm.PrefixMisc<<16 | miscTableSize: true, wasm.PrefixMisc<<16 | miscTableFill: true,
}

// planLazy picks the tables to fill lazily and adds their helpers.
// Precondition: the module was validated and planned.
func (mod *module) planLazy() {
	if mod.usesTableOps() {
		return
	}
	exported := map[uint32]bool{}
	for _, e := range mod.exports {
		if e.Kind == wasm.KindTable {
			exported[e.Index] = true
		}
	}
	slots := 0 // in all lazy tables: their helpers' code grows with it
	for t := mod.counts.ImportedTables; t < mod.counts.Tables; t++ {
		if exported[t] || mod.tableElems[t] != wasm.FuncRef {
			continue
		}
		lt, ok := mod.lazySlots(t, mod.tableMins[t-mod.counts.ImportedTables])
		if !ok || filledIn(lt.Funcs) < LazyTableMin || slots+len(lt.Funcs) > lazyMaxSlots {
			continue
		}
		slots += len(lt.Funcs)
		mod.lazy = append(mod.lazy, lt)
	}
	for i := range mod.lazy {
		lt := &mod.lazy[i]
		mod.planFill(i, lt)
		for j := range mod.elems {
			if e := &mod.elems[j]; e.Active() && e.Table == lt.Table {
				e.Flags, e.Table, e.Offset = 3|e.Flags&4, 0, nil // declarative
			}
		}
	}
}

// usesTableOps reports whether any body uses a table instruction other
// than call_indirect. A body that cannot be read is reported by the
// rewrite, which fails.
func (mod *module) usesTableOps() bool {
	var r wasm.Reader
	var in wasm.Instr
	for _, c := range mod.code {
		_, start, err := wasm.Locals(c.Body)
		if err != nil {
			return true
		}
		r.Reset(c.Body)
		r.Seek(start)
		for r.Next(&in) == nil {
			if tableOps[in.Op] {
				return true
			}
		}
	}
	return false
}

// lazySlots lays out what table t's active segments put in it, or reports
// that one of them rules the table out.
func (mod *module) lazySlots(t, size uint32) (LazyTable, bool) {
	lt := LazyTable{Table: t}
	var slots map[uint32]uint32 // slot -> function index + 1, or 0
	lo, hi := ^uint32(0), uint32(0)
	for i := range mod.elems {
		e := &mod.elems[i]
		if !e.Active() || e.Table != t {
			continue
		}
		off, ok := e.Offset.I32Const()
		n := uint64(len(e.Funcs) + len(e.Exprs))
		if !ok || uint64(off)+n > uint64(size) {
			return lt, false
		}
		if slots == nil {
			slots = map[uint32]uint32{}
		}
		for j := range n {
			f, ok := elemFunc(e, int(j))
			if !ok {
				return lt, false
			}
			slots[off+uint32(j)] = f // a later segment overwrites
		}
		if n > 0 {
			lo, hi = min(lo, off), max(hi, off+uint32(n))
		}
	}
	if hi <= lo {
		return lt, false
	}
	lt.Lo = lo
	lt.Funcs = make([]uint32, hi-lo)
	for s, f := range slots {
		if f != 0 {
			lt.Funcs[s-lo] = mod.funcIndex(f-1) + 1
		}
	}
	return lt, true
}

// elemFunc is element j of a segment: a function index plus one, or 0 for
// ref.null. Other constant expressions are not handled.
func elemFunc(e *wasm.Element, j int) (uint32, bool) {
	if e.Exprs == nil {
		return e.Funcs[j] + 1, true
	}
	x := e.Exprs[j]
	var r wasm.Reader
	var in wasm.Instr
	r.Reset(x)
	if r.Next(&in) != nil {
		return 0, false
	}
	switch {
	case in.Op == wasm.OpRefFunc && in.End+1 == len(x):
		return in.Index + 1, true
	case in.Op == wasm.OpRefNull && in.End+1 == len(x):
		return 0, true
	}
	return 0, false
}

// lazyOf returns the lazy table t, or nil.
func (mod *module) lazyOf(t uint32) *LazyTable {
	for i := range mod.lazy {
		if mod.lazy[i].Table == t {
			return &mod.lazy[i]
		}
	}
	return nil
}

// lazyCode appends the check that stands before a call_indirect on a lazy
// table, the slot index on the stack:
//
//	local.tee d; local.get d; i32.const lo; i32.sub; i32.const n; i32.lt_u
//	if
//	  local.get d; table.get t; ref.is_null
//	  if local.get d; call $fill end
//	end
func (w *bodyRewriter) lazyCode(dst []byte, lt *LazyTable) []byte {
	d := w.scratch.d()
	a := asm{b: dst}
	a.localTee(d)
	a.localGet(d)
	a.i32(int64(int32(lt.Lo)))
	a.op(opI32Sub)
	a.i32(int64(int32(uint32(len(lt.Funcs)))))
	a.op(opI32LtU)
	a.ifEmpty()
	a.localGet(d)
	a.idx(opTableGet, lt.Table)
	a.op(opRefIsNull)
	a.ifEmpty()
	a.localGet(d)
	a.call(lt.Fills[0])
	a.end()
	a.end()
	return a.b
}

// A slot's fill dispatches with a br_table over nested blocks, one per
// slot, and wazero's compile time grows with the square of the nesting.
// So a table of more than lazyChunk slots is filled by a helper per chunk
// of lazyChunk slots, which a first helper picks with a br_table on the
// slot's chunk: no helper nests more than lazyChunk+1 blocks. The slots
// of a module's lazy tables add up to at most lazyMaxSlots, internal/
// shape's default TableMin; other tables stay eager. So the helpers of a
// module are never more than those of the largest table shape admits,
// which TestLazyTableStaysWithinShape checks against shape's limits.
const (
	lazyChunkShift = 9
	lazyChunk      = 1 << lazyChunkShift
	lazyMaxSlots   = 1 << 17
)

// chunk is the slots of chunk c of lt.
func (lt *LazyTable) chunk(c int) []uint32 {
	return lt.Funcs[c*lazyChunk : min((c+1)*lazyChunk, len(lt.Funcs))]
}

// chunks is how many chunks lt's fill dispatches over; 0 if one helper
// fills every slot.
func (lt *LazyTable) chunks() int {
	if len(lt.Funcs) <= lazyChunk {
		return 0
	}
	return (len(lt.Funcs) + lazyChunk - 1) / lazyChunk
}

// planFill adds lt's fill helpers. Precondition: lt is mod.lazy[i].
func (mod *module) planFill(i int, lt *LazyTable) {
	lt.Fills = []uint32{mod.helperFor(helperKey{kind: helperLazyFill, a: uint32(i)})}
	for c := range lt.chunks() {
		if filledIn(lt.chunk(c)) > 0 {
			lt.Fills = append(lt.Fills, mod.helperFor(helperKey{kind: helperLazyFill, a: uint32(i), b: uint32(c + 1)}))
		}
	}
}

// filledIn counts the nonzero entries of slots: those holding a function
// (or a chunk's fill).
func filledIn(slots []uint32) int {
	n := 0
	for _, f := range slots {
		if f != 0 {
			n++
		}
	}
	return n
}

// lazyFillBody is a helper that fills one slot of a lazy table, its
// parameter the slot: the table's fill (k.b == 0), or the fill of chunk
// k.b-1 of a table of several chunks.
func (mod *module) lazyFillBody(a *asm, k helperKey) {
	lt := &mod.lazy[k.a]
	a.op(0) // no locals
	switch n := lt.chunks(); {
	case k.b > 0:
		c := int(k.b - 1)
		mod.slotFill(a, lt, lt.Lo+uint32(c*lazyChunk), lt.chunk(c))
	case n == 0:
		mod.slotFill(a, lt, lt.Lo, lt.Funcs)
	default:
		mod.chunkFill(a, k.a, lt, n)
	}
	a.end()
}

// slotFill dispatches on slot - base over slots: a br_table picks the
// slot's ref.func, which table.set stores. Slots that stay null take the
// default branch.
func (mod *module) slotFill(a *asm, lt *LazyTable, base uint32, slots []uint32) {
	dispatch(a, slots, func() {
		a.localGet(0)
		a.i32(int64(int32(base)))
		a.op(opI32Sub)
	}, func(f uint32) {
		a.localGet(0)
		a.idx(byte(wasm.OpRefFunc), f-1)
		a.idx(opTableSet, lt.Table)
	})
}

// chunkFill dispatches on (slot - lo) >> lazyChunkShift over the n chunks
// of lazy table i, calling the chunk's fill; chunks with no function take
// the default branch.
func (mod *module) chunkFill(a *asm, i uint32, lt *LazyTable, n int) {
	fills := make([]uint32, n) // each chunk's fill + 1, 0 for none
	for c := range fills {
		if f, ok := mod.inj.helperIndex[helperKey{kind: helperLazyFill, a: i, b: uint32(c + 1)}]; ok {
			fills[c] = f + 1
		}
	}
	dispatch(a, fills, func() {
		a.localGet(0)
		a.i32(int64(int32(lt.Lo)))
		a.op(opI32Sub)
		a.i32(lazyChunkShift)
		a.op(opI32ShrU)
	}, func(f uint32) {
		a.localGet(0)
		a.call(f - 1)
	})
}

// dispatch appends a br_table over cases, each a value plus one, or 0 for
// a case that takes the default branch and does nothing. index pushes the
// case number; arm appends the code of a case with its value plus one,
// after which the helper returns.
func dispatch(a *asm, cases []uint32, index func(), arm func(v uint32)) {
	arms := uint32(filledIn(cases))
	for range arms + 1 {
		a.op(byte(wasm.OpBlock), 0x40)
	}
	index()
	a.b = append(a.b, byte(wasm.OpBrTable))
	a.b = wasm.AppendU32(a.b, uint32(len(cases)))
	label := uint32(0)
	for _, v := range cases {
		if v == 0 {
			a.b = wasm.AppendU32(a.b, arms)
			continue
		}
		a.b = wasm.AppendU32(a.b, label)
		label++
	}
	a.b = wasm.AppendU32(a.b, arms) // the default
	a.end()
	for _, v := range cases {
		if v != 0 {
			arm(v)
			a.op(byte(wasm.OpReturn))
			a.end()
		}
	}
}

// lazySection encodes LazyTablesSection.
func (mod *module) lazySection() []byte {
	dst := wasm.AppendU32(nil, uint32(len(mod.lazy)))
	for i := range mod.lazy {
		lt := &mod.lazy[i]
		dst = wasm.AppendU32(dst, lt.Table)
		dst = wasm.AppendU32(dst, uint32(len(lt.Fills)))
		for _, f := range lt.Fills {
			dst = wasm.AppendU32(dst, f)
		}
		dst = wasm.AppendU32(dst, lt.Lo)
		dst = wasm.AppendU32(dst, uint32(len(lt.Funcs)))
		for _, f := range lt.Funcs {
			dst = wasm.AppendU32(dst, f)
		}
	}
	return dst
}

// LazyTables reads the lazy tables of a rewritten module; none if it has
// no LazyTablesSection.
func LazyTables(m *wasm.Module) ([]LazyTable, error) {
	s := m.Custom(LazyTablesSection)
	if s == nil {
		return nil, nil
	}
	b, p := s.Payload, 0
	next := func() uint32 {
		if p < 0 {
			return 0
		}
		v, q, err := wasm.ReadU32(b, p)
		if err != nil {
			p = -1
			return 0
		}
		p = q
		return v
	}
	n := next()
	var out []LazyTable
	for i := uint32(0); i < n && p >= 0; i++ {
		lt := LazyTable{Table: next()}
		k := next()
		if p < 0 || k == 0 || uint64(k) > uint64(len(b)-p) {
			break
		}
		lt.Fills = make([]uint32, k)
		for j := range lt.Fills {
			lt.Fills[j] = next()
		}
		lt.Lo = next()
		k = next()
		if p < 0 || uint64(k) > uint64(len(b)-p) {
			break
		}
		lt.Funcs = make([]uint32, k)
		for j := range lt.Funcs {
			lt.Funcs[j] = next()
		}
		out = append(out, lt)
	}
	if p != len(b) {
		return nil, fmt.Errorf("malformed %s section", LazyTablesSection)
	}
	return out, nil
}
