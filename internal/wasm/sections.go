package wasm

import "fmt"

// DecodeTypes decodes a type section payload.
func DecodeTypes(b []byte) ([]FuncType, error) {
	d := parser{b: b}
	n := d.count(3)
	out := make([]FuncType, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		if form := d.byte(); d.err == nil && form != 0x60 {
			d.fail(fmt.Errorf("type %d: unsupported type form 0x%02x (only function types are supported)", i, form))
		}
		var f FuncType
		f.Params = d.valTypes()
		f.Results = d.valTypes()
		out = append(out, f)
	}
	return out, d.finish("type")
}

func (d *parser) valTypes() []ValType {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	out := make([]ValType, n)
	for i := range out {
		out[i] = d.valType()
	}
	return out
}

// EncodeTypes encodes a type section payload.
func EncodeTypes(types []FuncType) []byte {
	dst := AppendU32(nil, uint32(len(types)))
	for _, f := range types {
		dst = append(dst, 0x60)
		dst = AppendU32(dst, uint32(len(f.Params)))
		for _, t := range f.Params {
			dst = append(dst, byte(t))
		}
		dst = AppendU32(dst, uint32(len(f.Results)))
		for _, t := range f.Results {
			dst = append(dst, byte(t))
		}
	}
	return dst
}

// DecodeImports decodes an import section payload.
func DecodeImports(b []byte) ([]Import, error) {
	d := parser{b: b}
	n := d.count(4)
	out := make([]Import, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		var im Import
		im.Module = d.name()
		im.Name = d.name()
		im.Kind = ExternKind(d.byte())
		switch im.Kind {
		case KindFunc:
			im.Func = d.u32()
		case KindTable:
			im.Table = TableType{Elem: d.refType(), Limits: d.limits(false)}
		case KindMemory:
			im.Memory = d.limits(true)
		case KindGlobal:
			im.Global = d.globalType()
		default:
			if d.err == nil {
				d.fail(fmt.Errorf("import %d: malformed import kind 0x%02x", i, byte(im.Kind)))
			}
		}
		out = append(out, im)
	}
	return out, d.finish("import")
}

// EncodeImports encodes an import section payload.
func EncodeImports(imports []Import) []byte {
	dst := AppendU32(nil, uint32(len(imports)))
	for _, im := range imports {
		dst = appendName(dst, im.Module)
		dst = appendName(dst, im.Name)
		dst = append(dst, byte(im.Kind))
		switch im.Kind {
		case KindFunc:
			dst = AppendU32(dst, im.Func)
		case KindTable:
			dst = append(dst, byte(im.Table.Elem))
			dst = appendLimits(dst, im.Table.Limits)
		case KindMemory:
			dst = appendLimits(dst, im.Memory)
		case KindGlobal:
			dst = appendGlobalType(dst, im.Global)
		}
	}
	return dst
}

// DecodeIndices decodes a payload that is a vector of u32: the function
// section.
func DecodeIndices(b []byte, what string) ([]uint32, error) {
	d := parser{b: b}
	n := d.count(1)
	out := make([]uint32, n)
	for i := range out {
		out[i] = d.u32()
	}
	return out, d.finish(what)
}

// EncodeIndices encodes a vector of u32.
func EncodeIndices(v []uint32) []byte {
	dst := AppendU32(nil, uint32(len(v)))
	for _, x := range v {
		dst = AppendU32(dst, x)
	}
	return dst
}

// DecodeTables decodes a table section payload.
func DecodeTables(b []byte) ([]TableType, error) {
	d := parser{b: b}
	n := d.count(3)
	out := make([]TableType, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, TableType{Elem: d.refType(), Limits: d.limits(false)})
	}
	return out, d.finish("table")
}

// EncodeTables encodes a table section payload.
func EncodeTables(tables []TableType) []byte {
	dst := AppendU32(nil, uint32(len(tables)))
	for _, t := range tables {
		dst = append(dst, byte(t.Elem))
		dst = appendLimits(dst, t.Limits)
	}
	return dst
}

// DecodeMemories decodes a memory section payload.
func DecodeMemories(b []byte) ([]Limits, error) {
	d := parser{b: b}
	n := d.count(2)
	out := make([]Limits, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.limits(true))
	}
	return out, d.finish("memory")
}

// EncodeMemories encodes a memory section payload.
func EncodeMemories(mems []Limits) []byte {
	dst := AppendU32(nil, uint32(len(mems)))
	for _, l := range mems {
		dst = appendLimits(dst, l)
	}
	return dst
}

// DecodeGlobals decodes a global section payload.
func DecodeGlobals(b []byte) ([]Global, error) {
	d := parser{b: b}
	n := d.count(3)
	out := make([]Global, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		t := d.globalType()
		out = append(out, Global{Type: t, Init: d.expr()})
	}
	return out, d.finish("global")
}

// EncodeGlobals encodes a global section payload.
func EncodeGlobals(globals []Global) []byte {
	dst := AppendU32(nil, uint32(len(globals)))
	for _, g := range globals {
		dst = appendGlobalType(dst, g.Type)
		dst = append(dst, g.Init...)
	}
	return dst
}

// DecodeExports decodes an export section payload.
func DecodeExports(b []byte) ([]Export, error) {
	d := parser{b: b}
	n := d.count(3)
	out := make([]Export, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		var e Export
		e.Name = d.name()
		e.Kind = ExternKind(d.byte())
		if d.err == nil && e.Kind > KindGlobal {
			d.fail(fmt.Errorf("export %q: malformed export kind 0x%02x", e.Name, byte(e.Kind)))
		}
		e.Index = d.u32()
		out = append(out, e)
	}
	return out, d.finish("export")
}

// EncodeExports encodes an export section payload.
func EncodeExports(exports []Export) []byte {
	dst := AppendU32(nil, uint32(len(exports)))
	for _, e := range exports {
		dst = appendName(dst, e.Name)
		dst = append(dst, byte(e.Kind))
		dst = AppendU32(dst, e.Index)
	}
	return dst
}

// DecodeU32 decodes a payload that is a single u32: the start and data
// count sections.
func DecodeU32(b []byte, what string) (uint32, error) {
	d := parser{b: b}
	v := d.u32()
	return v, d.finish(what)
}
