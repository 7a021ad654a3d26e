package kernel

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/fault"
	"github.com/isle-run/isle/internal/fuel"
	"github.com/isle-run/isle/internal/wasm"
)

// A reactor's turns call its isle_handle through a dispatcher: a module of
// the kernel's own, whose table holds a reference to the handler of every
// reactor that has an instance, and whose dispatch function calls one of
// them with call_indirect. wazero gives every api.Function a call engine
// of its own, with a 10 KiB stack; called through the dispatcher, the
// reactors a worker runs share that worker's engine. So a reactor keeps no
// stack between its turns, and a turn runs on a stack already in the
// caches: at 10,000 instances called in turn, bare wazero took 109 ns a
// call through each one's own engine and 45 through one shared engine
// (RATIONALE, "A worker's reactors share its call stack").
//
// Nothing of one turn's stack is visible to the next: wasm cannot address
// its call stack, and wazero initialises every local it allocates there.

// handlerRefExport names the global exportHandler adds to a reactor's
// module: a reference to its isle_handle, which bind puts in a table.
const handlerRefExport = "isle:handler"

// slotsPerChunk is the size of one dispatcher instance's table. The
// tables are fixed, as growing one while another worker calls through it
// would race; a node with more reactors awake gets another instance.
const slotsPerChunk = 1 << 16

// handlerType is isle_handle's signature: (len, tag, aux, nhandles).
var handlerType = wasm.FuncType{Params: []wasm.ValType{wasm.I32, wasm.I32, wasm.I32, wasm.I32}}

// dispatcher hands out the slots of the dispatcher instances' tables.
type dispatcher struct {
	rt   wazero.Runtime
	size uint32 // slots a chunk holds: slotsPerChunk, or fewer in tests

	mu     sync.Mutex // guards everything below
	code   wazero.CompiledModule
	chunks []*dispatchChunk
	free   []uint32  // released slots, reused first
	next   uint32    // slots ever handed out
	stack  [2]uint64 // set's and clear's parameters
	// own holds, by slot, the handler of a reactor whose stack outgrew
	// one chunk beyond fuel.StackInitial, called through an engine of its
	// own (see ownFunc).
	own map[uint32]api.Function
}

// dispatchChunk is one instance of the dispatch module.
type dispatchChunk struct {
	inst       api.Module
	set, clear api.Function // called under dispatcher.mu
}

// A slot as a Process holds it is its number plus one: zero is none. Its
// chunk is the instance whose table holds it, at its index.
func (d *dispatcher) chunkOf(slot uint32) int    { return int((slot - 1) / d.size) }
func (d *dispatcher) indexOf(slot uint32) uint64 { return uint64((slot - 1) % d.size) }

// bind puts inst's handler in a free slot and returns the slot.
// Precondition: inst is a reactor's instance (it has handlerRefExport),
// and stays open until unbind.
func (d *dispatcher) bind(inst api.Module) (uint32, error) {
	ref := inst.ExportedGlobal(handlerRefExport)
	if ref == nil {
		return 0, errors.New("the reactor's module has no handler reference")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var slot uint32
	if n := len(d.free); n > 0 {
		slot, d.free = d.free[n-1], d.free[:n-1]
	} else {
		d.next++
		slot = d.next
	}
	c, err := d.chunk(d.chunkOf(slot))
	if err == nil {
		d.stack = [2]uint64{d.indexOf(slot), ref.Get()}
		err = c.set.CallWithStack(context.Background(), d.stack[:])
	}
	if err != nil {
		d.free = append(d.free, slot)
		return 0, fmt.Errorf("give the reactor a dispatch slot: %w", err)
	}
	return slot, nil
}

// unbind empties slot, so that nothing can call through it, and frees it.
// Precondition: no turn of the slot's reactor is running, and the
// reactor's instance is still open.
func (d *dispatcher) unbind(slot uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.own, slot)
	d.stack[0] = d.indexOf(slot)
	if err := d.chunks[d.chunkOf(slot)].clear.CallWithStack(context.Background(), d.stack[:1]); err != nil {
		return // the runtime is closed: the slot goes with it, never to be reused
	}
	d.free = append(d.free, slot)
}

// chunk returns the i-th dispatcher instance, making it if it is the
// next. Precondition: d.mu is held, and i <= len(d.chunks).
func (d *dispatcher) chunk(i int) (*dispatchChunk, error) {
	if i < len(d.chunks) {
		return d.chunks[i], nil
	}
	ctx := context.Background()
	if d.code == nil {
		code, err := d.rt.CompileModule(ctx, dispatchModule(d.size))
		if err != nil {
			return nil, err
		}
		d.code = code
	}
	inst, err := d.rt.InstantiateModule(ctx, d.code, wazero.NewModuleConfig().
		WithName(fault.DispatchModule+":"+strconv.Itoa(i)).WithStartFunctions())
	if err != nil {
		return nil, err
	}
	c := &dispatchChunk{inst: inst, set: inst.ExportedFunction("set"), clear: inst.ExportedFunction("clear")}
	d.chunks = append(d.chunks, c)
	return c, nil
}

// call returns the function through which w runs the handler in slot: the
// dispatch function of the slot's chunk, with the call engine w keeps for
// it. Precondition: called by w's goroutine, for a slot bound to the
// reactor whose turn it runs.
func (w *worker) dispatchFunc(d *dispatcher, slot uint32) api.Function {
	i := d.chunkOf(slot)
	if i < len(w.dispatch) && w.dispatch[i] != nil {
		return w.dispatch[i]
	}
	d.mu.Lock()
	f := d.chunks[i].inst.ExportedFunction("dispatch") // a new call engine
	d.mu.Unlock()
	if i >= len(w.dispatch) {
		w.dispatch = append(w.dispatch, make([]api.Function, i+1-len(w.dispatch))...)
	}
	w.dispatch[i] = f
	return f
}

// deep reports whether p's stack has outgrown the worker's engines: it
// was granted more than one chunk beyond fuel.StackInitial. wazero never
// shrinks a stack it grew, and a worker's engine is nobody's to charge,
// so such a reactor's turns run on an engine of its own (ownFunc), whose
// stack it was charged for. A reactor that never needed more leaves a
// worker's stack at most a few times that.
func deep(p *Process) bool { return p.callStack.granted > fuel.StackChunk }

// settleEngine drops w's engine for slot's chunk after the turn in which p
// outgrew it. Precondition: called by w's goroutine, after p's turn.
func (w *worker) settleEngine(d *dispatcher, p *Process, slot uint32) {
	if deep(p) {
		w.dispatch[d.chunkOf(slot)] = nil
	}
}

// ownFunc returns the handler of the reactor in slot as an api.Function of
// its own, made at its first deep turn after it was bound and kept until
// unbind. Precondition: called by the reactor's owner, in a turn.
func (d *dispatcher) ownFunc(inst api.Module, slot uint32) api.Function {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.own[slot]
	if f == nil {
		f = inst.ExportedFunction(handlerExport)
		if d.own == nil {
			d.own = map[uint32]api.Function{}
		}
		d.own[slot] = f
	}
	return f
}

// dispatchModule is the dispatcher's code:
//
//	(table size size funcref)
//	(func (export "set") (param $slot i32) (param $h funcref)
//	  (table.set (local.get $slot) (local.get $h)))
//	(func (export "clear") (param $slot i32)
//	  (table.set (local.get $slot) (ref.null func)))
//	(func (export "dispatch") (param $slot i32) (param i32 i32 i32 i32)
//	  (call_indirect (type $handler) (local.get 1) ... (local.get 4) (local.get $slot)))
func dispatchModule(size uint32) []byte {
	i32, funcref := wasm.I32, wasm.FuncRef
	const tableSet = 0x26
	m := &wasm.Module{}
	m.Put(wasm.SectionType, wasm.EncodeTypes([]wasm.FuncType{
		handlerType,
		{Params: []wasm.ValType{i32, funcref}},
		{Params: []wasm.ValType{i32}},
		{Params: []wasm.ValType{i32, i32, i32, i32, i32}},
	}))
	m.Put(wasm.SectionFunction, wasm.EncodeIndices([]uint32{1, 2, 3}))
	m.Put(wasm.SectionTable, wasm.EncodeTables([]wasm.TableType{
		{Elem: funcref, Limits: wasm.Limits{Flags: 1, Min: size, Max: size}},
	}))
	m.Put(wasm.SectionExport, wasm.EncodeExports([]wasm.Export{
		{Name: "set", Kind: wasm.KindFunc, Index: 0},
		{Name: "clear", Kind: wasm.KindFunc, Index: 1},
		{Name: "dispatch", Kind: wasm.KindFunc, Index: 2},
	}))
	get := func(i byte) []byte { return []byte{byte(wasm.OpLocalGet), i} }
	body := func(parts ...[]byte) []byte {
		b := []byte{0} // no locals
		for _, p := range parts {
			b = append(b, p...)
		}
		return append(b, byte(wasm.OpEnd))
	}
	m.Put(wasm.SectionCode, wasm.EncodeCode([]wasm.Code{
		{Body: body(get(0), get(1), []byte{tableSet, 0})},
		{Body: body(get(0), []byte{byte(wasm.OpRefNull), byte(funcref), tableSet, 0})},
		{Body: body(get(1), get(2), get(3), get(4), get(0), []byte{byte(wasm.OpCallIndirect), 0, 0})},
	}))
	// wazero names a frame by its module's name section: this one lets
	// fault.Frames tell the dispatcher's frame from the guest's.
	module := append(wasm.AppendU32(nil, uint32(len(fault.DispatchModule))), fault.DispatchModule...)
	funcs := wasm.AppendNameMap(nil, []wasm.NameAssoc{{Index: 0, Name: "set"}, {Index: 1, Name: "clear"}, {Index: 2, Name: "dispatch"}})
	m.Sections = append(m.Sections, wasm.Section{ID: wasm.SectionCustom, Name: "name",
		Payload: wasm.EncodeNameSubsections([]wasm.NameSubsection{{ID: wasm.NameModule, Payload: module}, {ID: wasm.NameFunction, Payload: funcs}})})
	return m.Encode()
}

// exportHandler gives a reactor's module the global bind reads: an
// immutable funcref holding its isle_handle, exported as handlerRefExport.
// A module that is not a reactor comes back as it was. A reactor whose
// isle_handle is imported, or not of the handler's type, is refused: the
// kernel could not call it.
func exportHandler(bin []byte) ([]byte, error) {
	mod, exports, err := decodeExports(bin)
	if err != nil {
		return nil, err
	}
	handler, command := int64(-1), false
	for _, e := range exports {
		switch {
		case e.Name == handlerRefExport:
			return nil, fmt.Errorf("module exports a %s named %q, a name reserved for the kernel", e.Kind, e.Name)
		case e.Name == entryPoint:
			command = true
		case e.Name == handlerExport && e.Kind == wasm.KindFunc:
			handler = int64(e.Index)
		}
	}
	if handler < 0 || command {
		return bin, nil
	}
	funcs, globals, err := importCounts(mod)
	if err != nil {
		return nil, err
	}
	if handler < int64(funcs) {
		return nil, fmt.Errorf("its %s is an imported function: a reactor must define its own", handlerExport)
	}
	t, err := funcType(mod, uint32(handler)-funcs)
	if err != nil {
		return nil, err
	}
	if !t.Equal(handlerType) {
		return nil, fmt.Errorf("its %s has type %s: a reactor's takes (len i32, tag i32, aux i32, nhandles i32) and returns nothing",
			handlerExport, signature(t))
	}
	var gs []wasm.Global
	if s := mod.Section(wasm.SectionGlobal); s != nil {
		if gs, err = wasm.DecodeGlobals(s.Payload); err != nil {
			return nil, err
		}
	}
	init := append(wasm.AppendU32([]byte{byte(wasm.OpRefFunc)}, uint32(handler)), byte(wasm.OpEnd))
	gs = append(gs, wasm.Global{Type: wasm.GlobalType{Type: wasm.FuncRef}, Init: init})
	exports = append(exports, wasm.Export{Name: handlerRefExport, Kind: wasm.KindGlobal, Index: globals + uint32(len(gs)) - 1})
	mod.Put(wasm.SectionGlobal, wasm.EncodeGlobals(gs))
	mod.Put(wasm.SectionExport, wasm.EncodeExports(exports))
	return mod.Encode(), nil
}

// funcType is the type of the i-th function mod defines.
func funcType(mod *wasm.Module, i uint32) (wasm.FuncType, error) {
	var fs []uint32
	var types []wasm.FuncType
	var err error
	if s := mod.Section(wasm.SectionFunction); s != nil {
		fs, err = wasm.DecodeIndices(s.Payload, "function")
	}
	if s := mod.Section(wasm.SectionType); s != nil && err == nil {
		types, err = wasm.DecodeTypes(s.Payload)
	}
	switch {
	case err != nil:
		return wasm.FuncType{}, err
	case i >= uint32(len(fs)) || fs[i] >= uint32(len(types)):
		return wasm.FuncType{}, fmt.Errorf("function %d has no type", i)
	}
	return types[fs[i]], nil
}

// signature writes t as "(i32 i64) -> (f32)".
func signature(t wasm.FuncType) string {
	list := func(vs []wasm.ValType) string {
		s := ""
		for i, v := range vs {
			if i > 0 {
				s += " "
			}
			s += v.String()
		}
		return "(" + s + ")"
	}
	return list(t.Params) + " -> " + list(t.Results)
}
