package kernel

import (
	"errors"
	"fmt"
	"slices"

	"github.com/isle-run/isle/internal/fuel"
	"github.com/isle-run/isle/internal/wasm"
)

// A Go command has no _initialize: the runtime's init and every package's
// init run inside _start, before main.main, and cost a Go hello most of
// its time. So the image of a Go command is cut at main.main's entry.
//
// Go's wasm port keeps each goroutine's state in linear memory: a call
// pushes its return address (PC_F<<16 | PC_B) on the Go stack, and
// wasm_pc_f_loop resumes whatever function the word at -8(SP) names, so a
// goroutine switch unwinds the whole wasm stack (every function returns 1)
// and loses nothing. The cut does the same at main.main's entry: a hook
// stores main.main's own PC at -8(SP), sets PAUSE (which ends the loop)
// and returns 1, so _start returns with the program's whole state in its
// memory and globals. A clone resumes it by calling wasm_pc_f_loop,
// exported as goResumeExport: the loop calls main.main as if it had been
// switched to, and main.main returns into runtime.main as usual.
//
// Every Go command is loaded with the hook in place, and it fires once in
// every run: its global, exported as goCutExport, starts at cutUnwind, a
// snapshot sets it to cutPause, and firing sets it to cutDone, which the
// image bakes in. So one compiled module serves runs and snapshots, and a
// run that makes no snapshot takes the same path as a clone: its hook
// unwinds to the loop without PAUSE, and the loop calls main.main at once.
// Both then spend the same fuel, but for the entry of the loop the clone
// calls (see goLoopEntryFuel). The layout it relies on is Go's linker's:
// the
// globals SP (0) and PAUSE (7), functions named in the "name" section,
// and every Go function in the table at its PC_F. A module that does not
// match is refused (no image), never guessed at.

// goResumeExport is the export a clone of a Go command's image runs
// instead of _start; goCutExport is the hook's global, which a snapshot
// sets to 1.
const (
	goResumeExport = "isle:go-resume"
	goCutExport    = "isle:go-cut"
)

// The hook's states, the values of its global.
const (
	cutDone   = 0 // fired: main.main runs
	cutUnwind = 1 // unwind to the loop once, as a goroutine switch does
	cutPause  = 2 // unwind and end the loop: a snapshot's cut
)

// Go's linker's names and globals.
const (
	goMainFunc    = "main.main"
	goLoopFunc    = "wasm_pc_f_loop"
	goGlobalSP    = 0
	goGlobalPause = 7
)

// Opcodes the hook uses that internal/wasm does not name.
const (
	opI32Sub   = 0x6b
	opI64Sub   = 0x7d
	opI64Store = 0x37
)

// goGlobals are the types of the globals Go's linker declares, in order.
var goGlobals = []wasm.ValType{wasm.I32, wasm.I64, wasm.I64, wasm.I64, wasm.I64, wasm.I64, wasm.I64, wasm.I32}

// errNotGoCut says a command is not a Go program the cut understands.
var errNotGoCut = errors.New("it is not a Go command isle can cut at main.main")

// goCut is a Go command as loaded, with its cut.
type goCut struct {
	bin []byte
	// loopFuel is what wasm_pc_f_loop charges on entry: a clone enters it
	// once more than a run of its own does.
	loopFuel int64
}

// withGoCut returns bin, a fuel-instrumented module, with the cut if it
// is a Go command the cut understands, or nil.
func withGoCut(bin []byte) *goCut {
	mod, err := wasm.Decode(bin)
	if err != nil || mod.Custom("go:buildid") == nil {
		return nil
	}
	cut, err := goCutModule(mod)
	if err != nil {
		return nil
	}
	return cut
}

// goCutModule rewrites mod, a fuel-instrumented Go command, so that _start
// stops at main.main's entry once goCutExport is set, and goResumeExport
// resumes from there.
func goCutModule(mod *wasm.Module) (*goCut, error) {
	funcs, err := goFuncIndices(mod, goMainFunc, goLoopFunc)
	if err != nil {
		return nil, err
	}
	mainFn, loopFn := funcs[0], funcs[1]
	imported, importedGlobals, err := importCounts(mod)
	if err != nil {
		return nil, err
	}
	if importedGlobals > 0 { // the hook names Go's globals by index
		return nil, fmt.Errorf("%w: it imports a global", errNotGoCut)
	}
	if mainFn < imported || loopFn < imported {
		return nil, fmt.Errorf("%w: %s or %s is an import", errNotGoCut, goMainFunc, goLoopFunc)
	}
	if err := checkGoTypes(mod, imported, mainFn, loopFn); err != nil {
		return nil, err
	}
	pcF, err := tableSlot(mod, mainFn)
	if err != nil {
		return nil, err
	}
	loopFuel, err := entryFuel(mod, loopFn-imported)
	if err != nil {
		return nil, err
	}
	cut, err := addCutGlobal(mod)
	if err != nil {
		return nil, err
	}
	if err := hookMain(mod, mainFn-imported, cut, pcF); err != nil {
		return nil, err
	}
	if err := addExports(mod, wasm.Export{Name: goResumeExport, Kind: wasm.KindFunc, Index: loopFn},
		wasm.Export{Name: goCutExport, Kind: wasm.KindGlobal, Index: cut}); err != nil {
		return nil, err
	}
	return &goCut{bin: mod.Encode(), loopFuel: loopFuel}, nil
}

// goFuncIndices finds the functions of the given names in the "name"
// section.
func goFuncIndices(mod *wasm.Module, names ...string) ([]uint32, error) {
	sec := mod.Custom("name")
	if sec == nil {
		return nil, fmt.Errorf("%w: it has no name section (was it linked with -ldflags=-s?)", errNotGoCut)
	}
	subs, err := wasm.DecodeNameSubsections(sec.Payload)
	if err != nil {
		return nil, err
	}
	found := map[string]uint32{}
	for _, s := range subs {
		if s.ID != wasm.NameFunction {
			continue
		}
		m, err := wasm.DecodeNameMap(s.Payload)
		if err != nil {
			return nil, err
		}
		for _, a := range m {
			found[a.Name] = a.Index
		}
	}
	out := make([]uint32, len(names))
	for i, n := range names {
		idx, ok := found[n]
		if !ok {
			return nil, fmt.Errorf("%w: it has no function %s", errNotGoCut, n)
		}
		out[i] = idx
	}
	return out, nil
}

// importCounts counts the module's imported functions and globals.
func importCounts(mod *wasm.Module) (funcs, globals uint32, err error) {
	sec := mod.Section(wasm.SectionImport)
	if sec == nil {
		return 0, 0, nil
	}
	imports, err := wasm.DecodeImports(sec.Payload)
	if err != nil {
		return 0, 0, err
	}
	for _, im := range imports {
		switch im.Kind {
		case wasm.KindFunc:
			funcs++
		case wasm.KindGlobal:
			globals++
		}
	}
	return funcs, globals, nil
}

// checkGoTypes checks that main.main has Go's calling convention
// ((i32 PC_B) -> i32 unwind), that wasm_pc_f_loop takes and returns
// nothing, and that the globals start as Go's linker lays them out.
func checkGoTypes(mod *wasm.Module, imported, mainFn, loopFn uint32) error {
	// The hook stores to memory 0, which Go's linker defines.
	for _, id := range []wasm.SectionID{wasm.SectionType, wasm.SectionFunction, wasm.SectionGlobal, wasm.SectionMemory} {
		if mod.Section(id) == nil {
			return fmt.Errorf("%w: it has no %s section", errNotGoCut, id)
		}
	}
	types, err := wasm.DecodeTypes(sectionPayload(mod, wasm.SectionType))
	if err != nil {
		return err
	}
	decl, err := wasm.DecodeIndices(sectionPayload(mod, wasm.SectionFunction), "function")
	if err != nil {
		return err
	}
	typeOf := func(fn uint32) (wasm.FuncType, bool) {
		i := fn - imported
		if int(i) >= len(decl) || int(decl[i]) >= len(types) {
			return wasm.FuncType{}, false
		}
		return types[decl[i]], true
	}
	mt, ok1 := typeOf(mainFn)
	lt, ok2 := typeOf(loopFn)
	if !ok1 || !ok2 || !slices.Equal(mt.Params, []wasm.ValType{wasm.I32}) || !slices.Equal(mt.Results, []wasm.ValType{wasm.I32}) ||
		len(lt.Params) != 0 || len(lt.Results) != 0 {
		return fmt.Errorf("%w: %s or %s has an unexpected type", errNotGoCut, goMainFunc, goLoopFunc)
	}
	if mems, err := wasm.DecodeMemories(sectionPayload(mod, wasm.SectionMemory)); err != nil || len(mems) != 1 {
		return fmt.Errorf("%w: it does not define one linear memory", errNotGoCut)
	}
	globals, err := wasm.DecodeGlobals(sectionPayload(mod, wasm.SectionGlobal))
	if err != nil {
		return err
	}
	if len(globals) < len(goGlobals) {
		return fmt.Errorf("%w: it has %d globals", errNotGoCut, len(globals))
	}
	for i, t := range goGlobals {
		if globals[i].Type.Type != t || !globals[i].Type.Mutable {
			return fmt.Errorf("%w: global %d is not Go's", errNotGoCut, i)
		}
	}
	return nil
}

func sectionPayload(mod *wasm.Module, id wasm.SectionID) []byte {
	if s := mod.Section(id); s != nil {
		return s.Payload
	}
	return nil
}

// tableSlot finds fn's slot in table 0, which is its PC_F: Go's linker
// puts every function there, in one active segment at a constant offset.
// The rewrite makes such a table lazy (fuel.LazyTable), and then keeps its
// slots in a section of its own.
func tableSlot(mod *wasm.Module, fn uint32) (uint32, error) {
	lazy, err := fuel.LazyTables(mod)
	if err != nil {
		return 0, err
	}
	for _, lt := range lazy {
		if slot, ok := lt.Slot(fn); ok && lt.Table == 0 && slot <= 0xffff_ffff>>16 {
			return slot, nil
		}
	}
	sec := mod.Section(wasm.SectionElement)
	if sec == nil {
		return 0, fmt.Errorf("%w: it has no table elements", errNotGoCut)
	}
	elems, err := wasm.DecodeElements(sec.Payload)
	if err != nil {
		return 0, err
	}
	for _, e := range elems {
		if !e.Active() || e.Table != 0 || e.Exprs != nil {
			continue
		}
		base, ok := e.Offset.I32Const()
		if !ok {
			continue
		}
		for i, f := range e.Funcs {
			if f == fn && base+uint32(i) <= 0xffff_ffff>>16 {
				return base + uint32(i), nil
			}
		}
	}
	return 0, fmt.Errorf("%w: %s is not in its table at a constant slot", errNotGoCut, goMainFunc)
}

// addCutGlobal appends the hook's global, a mutable i32 that starts at
// cutUnwind.
func addCutGlobal(mod *wasm.Module) (uint32, error) {
	globals, err := wasm.DecodeGlobals(sectionPayload(mod, wasm.SectionGlobal))
	if err != nil {
		return 0, err
	}
	globals = append(globals, wasm.Global{Type: wasm.GlobalType{Type: wasm.I32, Mutable: true},
		Init: wasm.Expr{byte(wasm.OpI32Const), cutUnwind, byte(wasm.OpEnd)}})
	mod.Put(wasm.SectionGlobal, wasm.EncodeGlobals(globals))
	return uint32(len(globals) - 1), nil
}

// hookMain puts the cut at the start of main.main's body (body is its
// index in the code section).
func hookMain(mod *wasm.Module, body, cut, pcF uint32) error {
	code, err := wasm.DecodeCode(sectionPayload(mod, wasm.SectionCode))
	if err != nil {
		return err
	}
	if int(body) >= len(code) {
		return fmt.Errorf("%w: %s has no body", errNotGoCut, goMainFunc)
	}
	decls, start, err := wasm.LocalDecls(code[body].Body)
	if err != nil {
		return err
	}
	b := wasm.AppendLocalDecls(nil, decls)
	b = append(b, byte(wasm.OpGlobalGet))
	b = wasm.AppendU32(b, cut)
	b = append(b, byte(wasm.OpIf), 0x40) // if cut != cutDone {
	b = append(b, byte(wasm.OpGlobalGet))
	b = wasm.AppendU32(b, cut)
	b = append(b, byte(wasm.OpI32Const), cutUnwind, opI32Sub, byte(wasm.OpGlobalSet), goGlobalPause) //   PAUSE = cut - cutUnwind
	b = append(b, byte(wasm.OpI32Const), cutDone, byte(wasm.OpGlobalSet))
	b = wasm.AppendU32(b, cut) //   cut = cutDone
	b = append(b, byte(wasm.OpGlobalGet), goGlobalSP, byte(wasm.OpI32Const), 8, opI32Sub, byte(wasm.OpI64Const))
	b = wasm.AppendS64(b, int64(pcF)<<16)
	b = append(b, opI64Store, 3, 0)                                                //   *(SP-8) = main.main's PC, PC_B 0
	b = append(b, byte(wasm.OpI32Const), 1, byte(wasm.OpReturn), byte(wasm.OpEnd)) //   return 1 }
	code[body].Body = append(b, code[body].Body[start:]...)
	mod.Put(wasm.SectionCode, wasm.EncodeCode(code))
	return nil
}

// addExports adds to the export section.
func addExports(mod *wasm.Module, add ...wasm.Export) error {
	exports, err := wasm.DecodeExports(sectionPayload(mod, wasm.SectionExport))
	if err != nil {
		return err
	}
	for _, x := range exports {
		for _, e := range add {
			if x.Name == e.Name {
				return fmt.Errorf("%w: it already exports %s", errNotGoCut, e.Name)
			}
		}
	}
	mod.Put(wasm.SectionExport, wasm.EncodeExports(append(exports, add...)))
	return nil
}

// entryFuel reads the fuel the rewriter charges on entry to a function
// (body is its index in the code section): its body starts by taking a
// constant from the exported fuel counter.
func entryFuel(mod *wasm.Module, body uint32) (int64, error) {
	exports, err := wasm.DecodeExports(sectionPayload(mod, wasm.SectionExport))
	if err != nil {
		return 0, err
	}
	fuelGlobal := -1
	for _, e := range exports {
		if e.Kind == wasm.KindGlobal && e.Name == fuelGlobalExport {
			fuelGlobal = int(e.Index)
		}
	}
	code, err := wasm.DecodeCode(sectionPayload(mod, wasm.SectionCode))
	if err != nil || int(body) >= len(code) || fuelGlobal < 0 {
		return 0, fmt.Errorf("%w: %s has no fuel counter to read (%v)", errNotGoCut, goLoopFunc, err)
	}
	b := code[body].Body
	_, p, err := wasm.Locals(b)
	var g1, g2 uint32
	var n int64
	if err == nil && p < len(b) && b[p] == byte(wasm.OpGlobalGet) {
		g1, p, err = wasm.ReadU32(b, p+1)
	}
	if err == nil && p < len(b) && b[p] == byte(wasm.OpI64Const) {
		n, p, err = wasm.ReadS64(b, p+1)
	}
	if err == nil && p+1 < len(b) && b[p] == opI64Sub && b[p+1] == byte(wasm.OpGlobalSet) {
		g2, _, err = wasm.ReadU32(b, p+2)
	} else {
		err = errors.New("no charge")
	}
	if err != nil || g1 != uint32(fuelGlobal) || g2 != g1 || n <= 0 {
		return 0, fmt.Errorf("%w: %s does not start with a fuel charge", errNotGoCut, goLoopFunc)
	}
	return n, nil
}
