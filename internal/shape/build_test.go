package shape

import (
	"bytes"

	"github.com/isle-run/isle/internal/wasm"
)

// modBuilder assembles test modules with internal/wasm's encoder.
type modBuilder struct {
	types   []wasm.FuncType
	imports []wasm.Import
	funcs   []uint32 // type index of each defined function
	tables  []wasm.TableType
	mems    []wasm.Limits
	globals []wasm.Global
	exports []wasm.Export
	elems   []wasm.Element
	bodies  [][]byte // locals and expression of each defined function
	data    []wasm.Data
	customs []wasm.Section
	// dataCount adds a data count section, which memory.init and data.drop
	// need.
	dataCount bool
}

// fn adds a function of type 0, () -> (), with the given body.
func (m *modBuilder) fn(body []byte) *modBuilder {
	if len(m.types) == 0 {
		m.types = []wasm.FuncType{{}}
	}
	m.funcs = append(m.funcs, 0)
	m.bodies = append(m.bodies, body)
	return m
}

func (m *modBuilder) bytes() []byte {
	mod := &wasm.Module{}
	put := func(id wasm.SectionID, n int, payload func() []byte) {
		if n > 0 {
			mod.Put(id, payload())
		}
	}
	put(wasm.SectionType, len(m.types), func() []byte { return wasm.EncodeTypes(m.types) })
	put(wasm.SectionImport, len(m.imports), func() []byte { return wasm.EncodeImports(m.imports) })
	put(wasm.SectionFunction, len(m.funcs), func() []byte { return wasm.EncodeIndices(m.funcs) })
	put(wasm.SectionTable, len(m.tables), func() []byte { return wasm.EncodeTables(m.tables) })
	put(wasm.SectionMemory, len(m.mems), func() []byte { return wasm.EncodeMemories(m.mems) })
	put(wasm.SectionGlobal, len(m.globals), func() []byte { return wasm.EncodeGlobals(m.globals) })
	put(wasm.SectionExport, len(m.exports), func() []byte { return wasm.EncodeExports(m.exports) })
	put(wasm.SectionElement, len(m.elems), func() []byte { return wasm.EncodeElements(m.elems) })
	put(wasm.SectionCode, len(m.bodies), func() []byte {
		code := make([]wasm.Code, len(m.bodies))
		for i, b := range m.bodies {
			code[i].Body = b
		}
		return wasm.EncodeCode(code)
	})
	if m.dataCount {
		mod.Put(wasm.SectionDataCount, wasm.AppendU32(nil, uint32(len(m.data))))
	}
	put(wasm.SectionData, len(m.data), func() []byte { return wasm.EncodeData(m.data) })
	mod.Sections = append(mod.Sections, m.customs...)
	return mod.Encode()
}

// body is a function body: no locals, then code, then the final end.
func body(code ...[]byte) []byte {
	b := []byte{0}
	for _, c := range code {
		b = append(b, c...)
	}
	return append(b, byte(wasm.OpEnd))
}

// nest is depth structured instructions of opcode op nested in each other,
// each closed by its end. An if takes an i32.const 0 condition.
func nest(op wasm.Opcode, depth int) []byte {
	open := []byte{byte(op), 0x40}
	if op == wasm.OpIf {
		open = []byte{byte(wasm.OpI32Const), 0, byte(op), 0x40}
	}
	return append(bytes.Repeat(open, depth), bytes.Repeat([]byte{byte(wasm.OpEnd)}, depth)...)
}

// brTable is a br_table of n targets, default included, inside a block
// that every target leaves.
func brTable(n int) []byte {
	b := []byte{byte(wasm.OpBlock), 0x40, byte(wasm.OpI32Const), 0, byte(wasm.OpBrTable)}
	b = wasm.AppendU32(b, uint32(n-1))
	b = append(b, bytes.Repeat([]byte{0}, n)...) // all to the block, default too
	return append(b, byte(wasm.OpEnd))
}

// funcType has p i32 params and r i32 results.
func funcType(p, r int) wasm.FuncType {
	f := wasm.FuncType{Params: make([]wasm.ValType, p), Results: make([]wasm.ValType, r)}
	for i := range f.Params {
		f.Params[i] = wasm.I32
	}
	for i := range f.Results {
		f.Results[i] = wasm.I32
	}
	return f
}

// loopsLocals is a function of n i32 locals read in the innermost of depth
// nested loops: each read becomes a parameter of every loop around it.
func loopsLocals(depth, n int) []byte {
	b := append(wasm.AppendU32([]byte{1}, uint32(n)), byte(wasm.I32))
	b = append(b, bytes.Repeat([]byte{byte(wasm.OpLoop), 0x40}, depth)...)
	for j := 0; j < n; j++ {
		b = wasm.AppendU32(append(b, byte(wasm.OpLocalGet)), uint32(j))
		b = append(b, byte(wasm.OpDrop))
	}
	b = append(b, bytes.Repeat([]byte{byte(wasm.OpEnd)}, depth+1)...)
	return (&modBuilder{}).fn(b).bytes()
}

// ifsLocals is a function of n i32 locals set in the innermost of depth
// nested ifs and read after them: each becomes a parameter where every if
// ends.
func ifsLocals(depth, n int) []byte {
	b := append(wasm.AppendU32([]byte{1}, uint32(n)), byte(wasm.I32))
	b = append(b, bytes.Repeat([]byte{byte(wasm.OpI32Const), 0, byte(wasm.OpIf), 0x40}, depth)...)
	for j := 0; j < n; j++ {
		b = wasm.AppendU32(append(b, byte(wasm.OpI32Const), 1, byte(wasm.OpLocalSet)), uint32(j))
	}
	b = append(b, bytes.Repeat([]byte{byte(wasm.OpEnd)}, depth)...)
	for j := 0; j < n; j++ {
		b = wasm.AppendU32(append(b, byte(wasm.OpLocalGet)), uint32(j))
		b = append(b, byte(wasm.OpDrop))
	}
	return (&modBuilder{}).fn(append(b, byte(wasm.OpEnd))).bytes()
}

// chainedCalls is n calls of a function [a i32] -> [a i32], each passing
// the previous one's results, in the module's last function.
func chainedCalls(n, a int) []byte {
	m := &modBuilder{types: []wasm.FuncType{{}, funcType(a, a)}}
	callee := []byte{0}
	for j := 0; j < a; j++ {
		callee = wasm.AppendU32(append(callee, byte(wasm.OpLocalGet)), uint32(j))
	}
	m.funcs = append(m.funcs, 1)
	m.bodies = append(m.bodies, append(callee, byte(wasm.OpEnd)))
	return m.fn(body(bytes.Repeat([]byte{byte(wasm.OpI32Const), 0}, a),
		bytes.Repeat([]byte{byte(wasm.OpCall), 0}, n),
		bytes.Repeat([]byte{byte(wasm.OpDrop)}, a))).bytes()
}

// brIfValues is n br_ifs out of a block of a i32 results, each carrying
// them.
func brIfValues(n, a int) []byte {
	m := &modBuilder{types: []wasm.FuncType{{}, funcType(0, a)}}
	return m.fn(body([]byte{byte(wasm.OpBlock), 1},
		bytes.Repeat([]byte{byte(wasm.OpI32Const), 0}, a),
		bytes.Repeat([]byte{byte(wasm.OpI32Const), 0, byte(wasm.OpBrIf), 0}, n),
		[]byte{byte(wasm.OpEnd)},
		bytes.Repeat([]byte{byte(wasm.OpDrop)}, a))).bytes()
}

// manyFunctions is a module of n empty functions.
func manyFunctions(n int) []byte {
	m := &modBuilder{}
	for i := 0; i < n; i++ {
		m.fn(body())
	}
	return m.bytes()
}
