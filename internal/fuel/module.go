package fuel

import (
	"fmt"

	"github.com/isle-run/isle/internal/wasm"
)

// module is the decoded original plus what the rewrite adds.
type module struct {
	m       *wasm.Module
	types   []wasm.FuncType
	imports []wasm.Import
	funcs   []uint32 // type index of each defined function
	globals []wasm.Global
	exports []wasm.Export
	start   *uint32
	elems   []wasm.Element
	code    []wasm.Code
	data    []wasm.Data
	counts  counts
	codeLen uint64 // length of the original code section payload
	// tableElems is the element type of every table, imports first.
	tableElems []wasm.ValType
	// importTypes is the type index of every imported function.
	importTypes []uint32
	// tableMins is the initial size of every table the module defines.
	tableMins []uint32
	// lazy are the tables filled on first use (lazytable.go).
	lazy []LazyTable

	inj injected
	// inPlace keeps every loop's yield call in its check, as before
	// hoisting (hoist.go): tests compare the two.
	inPlace bool
	// frames is the frame estimate of each defined function that calls,
	// 0 for the others; tests read it.
	frames []int64
}

// counts are the sizes of the original index spaces. Imports come first in
// each space.
type counts struct {
	Types, Funcs, Tables, Memories, Globals, Elems, Datas            uint32
	ImportedFuncs, ImportedTables, ImportedMemories, ImportedGlobals uint32
}

// decodeModule decodes every section the rewrite reads or changes.
func decodeModule(b []byte) (*module, error) {
	m, err := wasm.Decode(b)
	if err != nil {
		return nil, err
	}
	mod := &module{m: m}
	var tables []wasm.TableType
	var mems []wasm.Limits
	var dataCount *uint32
	for i := range m.Sections {
		s := &m.Sections[i]
		p := s.Payload
		switch s.ID {
		case wasm.SectionType:
			mod.types, err = wasm.DecodeTypes(p)
		case wasm.SectionImport:
			mod.imports, err = wasm.DecodeImports(p)
		case wasm.SectionFunction:
			mod.funcs, err = wasm.DecodeIndices(p, "function")
		case wasm.SectionTable:
			tables, err = wasm.DecodeTables(p)
		case wasm.SectionMemory:
			mems, err = wasm.DecodeMemories(p)
		case wasm.SectionGlobal:
			mod.globals, err = wasm.DecodeGlobals(p)
		case wasm.SectionExport:
			mod.exports, err = wasm.DecodeExports(p)
		case wasm.SectionStart:
			var v uint32
			v, err = wasm.DecodeU32(p, "start")
			mod.start = &v
		case wasm.SectionElement:
			mod.elems, err = wasm.DecodeElements(p)
		case wasm.SectionDataCount:
			var v uint32
			v, err = wasm.DecodeU32(p, "data count")
			dataCount = &v
		case wasm.SectionCode:
			mod.code, err = wasm.DecodeCode(p)
			mod.codeLen = uint64(len(p))
		case wasm.SectionData:
			mod.data, err = wasm.DecodeData(p)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(mod.funcs) != len(mod.code) {
		return nil, fmt.Errorf("function and code section have inconsistent lengths (%d and %d)", len(mod.funcs), len(mod.code))
	}
	mod.count(tables, mems, dataCount)
	return mod, nil
}

// count fills in the sizes of the original index spaces.
func (mod *module) count(tables []wasm.TableType, mems []wasm.Limits, dataCount *uint32) {
	c := &mod.counts
	for _, im := range mod.imports {
		switch im.Kind {
		case wasm.KindFunc:
			c.ImportedFuncs++
			mod.importTypes = append(mod.importTypes, im.Func)
		case wasm.KindTable:
			c.ImportedTables++
			mod.tableElems = append(mod.tableElems, im.Table.Elem)
		case wasm.KindMemory:
			c.ImportedMemories++
		case wasm.KindGlobal:
			c.ImportedGlobals++
		}
	}
	// Sums stay below 2^32: each entry took at least one byte of input.
	c.Types = uint32(len(mod.types))
	c.Funcs = c.ImportedFuncs + uint32(len(mod.funcs))
	c.Tables = c.ImportedTables + uint32(len(tables))
	for _, t := range tables {
		mod.tableElems = append(mod.tableElems, t.Elem)
		mod.tableMins = append(mod.tableMins, t.Limits.Min)
	}
	c.Memories = c.ImportedMemories + uint32(len(mems))
	c.Globals = c.ImportedGlobals + uint32(len(mod.globals))
	c.Elems = uint32(len(mod.elems))
	c.Datas = uint32(len(mod.data))
	if dataCount != nil {
		c.Datas = *dataCount
	}
}

// checkIndex reports an index immediate outside its space.
func (mod *module) checkIndex(s wasm.Space, idx uint32) error {
	var n uint32
	c := &mod.counts
	switch s {
	case wasm.SpaceFunc:
		n = c.Funcs
	case wasm.SpaceTable:
		n = c.Tables
	case wasm.SpaceMemory:
		n = c.Memories
	case wasm.SpaceGlobal:
		n = c.Globals
	case wasm.SpaceType:
		n = c.Types
	case wasm.SpaceData:
		n = c.Datas
	case wasm.SpaceElem:
		n = c.Elems
	default:
		return nil
	}
	if idx >= n {
		return fmt.Errorf("%s index %d out of range (module has %d %ss)", s, idx, n, s)
	}
	return nil
}

// validate checks every index outside the code section against the
// original counts, so that nothing can refer to what the rewrite appends.
func (mod *module) validate() error {
	for i, t := range mod.funcs {
		if err := mod.checkIndex(wasm.SpaceType, t); err != nil {
			return fmt.Errorf("function %d: %w", mod.counts.ImportedFuncs+uint32(i), err)
		}
	}
	for _, im := range mod.imports {
		if im.Kind == wasm.KindFunc {
			if err := mod.checkIndex(wasm.SpaceType, im.Func); err != nil {
				return fmt.Errorf("import %q.%q: %w", im.Module, im.Name, err)
			}
		}
	}
	for _, e := range mod.exports {
		s := [...]wasm.Space{wasm.SpaceFunc, wasm.SpaceTable, wasm.SpaceMemory, wasm.SpaceGlobal}[e.Kind]
		if err := mod.checkIndex(s, e.Index); err != nil {
			return fmt.Errorf("export %q: %w", e.Name, err)
		}
	}
	if mod.start != nil {
		if err := mod.checkIndex(wasm.SpaceFunc, *mod.start); err != nil {
			return fmt.Errorf("start: %w", err)
		}
	}
	for i, g := range mod.globals {
		if err := mod.checkExpr(g.Init); err != nil {
			return fmt.Errorf("global %d: %w", mod.counts.ImportedGlobals+uint32(i), err)
		}
	}
	for i := range mod.elems {
		if err := mod.checkElem(&mod.elems[i]); err != nil {
			return fmt.Errorf("element segment %d: %w", i, err)
		}
	}
	for i, d := range mod.data {
		err := mod.checkExpr(d.Offset)
		if err == nil && d.Flags != 1 {
			err = mod.checkIndex(wasm.SpaceMemory, d.Memory)
		}
		if err != nil {
			return fmt.Errorf("data segment %d: %w", i, err)
		}
	}
	return nil
}

func (mod *module) checkElem(e *wasm.Element) error {
	if e.Active() {
		if err := mod.checkIndex(wasm.SpaceTable, e.Table); err != nil {
			return err
		}
		if err := mod.checkExpr(e.Offset); err != nil {
			return err
		}
	}
	for _, f := range e.Funcs {
		if err := mod.checkIndex(wasm.SpaceFunc, f); err != nil {
			return err
		}
	}
	for _, x := range e.Exprs {
		if err := mod.checkExpr(x); err != nil {
			return err
		}
	}
	return nil
}

// checkExpr checks the indices in a constant expression. Which opcodes are
// constant is left to wazero, which validates the rewritten module.
func (mod *module) checkExpr(e wasm.Expr) error {
	var r wasm.Reader
	var in wasm.Instr
	r.Reset(e)
	for {
		if err := r.Next(&in); err != nil {
			return nil // the expression was fully read when it was decoded
		}
		if err := mod.checkInstr(&in, 0, 1); err != nil {
			return err
		}
	}
}

// checkInstr checks every index immediate of one instruction: against the
// module's counts, the function's locals, and the enclosing labels.
func (mod *module) checkInstr(in *wasm.Instr, locals uint64, labels int) error {
	info, _ := wasm.Info(in.Op)
	if t, ok := in.Block.TypeIndex(); ok && info.Imm == wasm.ImmBlock {
		if err := mod.checkIndex(wasm.SpaceType, t); err != nil {
			return err
		}
	}
	switch info.Space {
	case wasm.SpaceNone:
		return nil
	case wasm.SpaceLocal:
		if uint64(in.Index) >= locals {
			return fmt.Errorf("local index %d out of range (function has %d locals)", in.Index, locals)
		}
		return nil
	case wasm.SpaceLabel:
		for _, l := range in.Labels[:labelCount(info, in)] {
			if l >= uint32(labels) {
				return fmt.Errorf("label index %d out of range (%d enclosing blocks)", l, labels)
			}
		}
		if in.Index >= uint32(labels) {
			return fmt.Errorf("label index %d out of range (%d enclosing blocks)", in.Index, labels)
		}
		return nil
	}
	if err := mod.checkIndex(info.Space, in.Index); err != nil {
		return err
	}
	if info.Imm == wasm.ImmIdx2 {
		return mod.checkIndex(info.Space2, in.Index2)
	}
	return nil
}

// labelCount is how many of in.Labels belong to this instruction: the
// reader reuses the slice, so only br_table's are current.
func labelCount(info wasm.OpInfo, in *wasm.Instr) int {
	if info.Imm == wasm.ImmBrTable {
		return len(in.Labels)
	}
	return 0
}
