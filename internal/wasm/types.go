package wasm

import "fmt"

// ValType is a value type.
type ValType byte

// Value types of WebAssembly 2.0.
const (
	I32       ValType = 0x7f
	I64       ValType = 0x7e
	F32       ValType = 0x7d
	F64       ValType = 0x7c
	V128      ValType = 0x7b
	FuncRef   ValType = 0x70
	ExternRef ValType = 0x6f
)

func (t ValType) valid() bool {
	switch t {
	case I32, I64, F32, F64, V128, FuncRef, ExternRef:
		return true
	}
	return false
}

// String names the type as the text format does.
func (t ValType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	case F32:
		return "f32"
	case F64:
		return "f64"
	case V128:
		return "v128"
	case FuncRef:
		return "funcref"
	case ExternRef:
		return "externref"
	}
	return fmt.Sprintf("valtype(0x%02x)", byte(t))
}

// FuncType is a function signature.
type FuncType struct {
	Params, Results []ValType
}

// Equal reports whether two signatures are the same.
func (f FuncType) Equal(g FuncType) bool {
	return string(f.Params) == string(g.Params) && string(f.Results) == string(g.Results)
}

// ExternKind is the kind of an import or export.
type ExternKind byte

// External kinds.
const (
	KindFunc   ExternKind = 0
	KindTable  ExternKind = 1
	KindMemory ExternKind = 2
	KindGlobal ExternKind = 3
)

// String names the kind.
func (k ExternKind) String() string {
	switch k {
	case KindFunc:
		return "function"
	case KindTable:
		return "table"
	case KindMemory:
		return "memory"
	case KindGlobal:
		return "global"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// Limits bound a table or memory. Flags is kept as read: bit 0 says Max is
// present, bit 1 marks a shared memory (threads), which is passed through.
type Limits struct {
	Flags    byte
	Min, Max uint32
}

// TableType is the type of a table.
type TableType struct {
	Elem   ValType
	Limits Limits
}

// GlobalType is the type of a global.
type GlobalType struct {
	Type    ValType
	Mutable bool
}

// Import is one entry of the import section. Only the field that matches
// Kind is meaningful.
type Import struct {
	Module, Name string
	Kind         ExternKind
	Func         uint32 // type index
	Table        TableType
	Memory       Limits
	Global       GlobalType
}

// Expr is a constant expression in its binary form, including the final
// end opcode.
type Expr []byte

// I32Const returns the value of an expression that is one i32.const, as
// an unsigned number.
func (e Expr) I32Const() (uint32, bool) {
	if len(e) < 3 || e[0] != byte(OpI32Const) || e[len(e)-1] != byte(OpEnd) {
		return 0, false
	}
	v, n, err := ReadS32(e, 1)
	if err != nil || n != len(e)-1 {
		return 0, false
	}
	return uint32(v), true
}

// Global is one entry of the global section.
type Global struct {
	Type GlobalType
	Init Expr
}

// Export is one entry of the export section.
type Export struct {
	Name  string
	Kind  ExternKind
	Index uint32
}

func (d *parser) limits(memory bool) Limits {
	var l Limits
	l.Flags = d.byte()
	maxFlag := byte(1)
	if memory {
		maxFlag = 3 // shared memories pass through; wazero decides
	}
	if d.err == nil && l.Flags > maxFlag {
		d.fail(fmt.Errorf("malformed limits flags 0x%02x", l.Flags))
	}
	l.Min = d.u32()
	if l.Flags&1 != 0 {
		l.Max = d.u32()
	}
	return l
}

func appendLimits(dst []byte, l Limits) []byte {
	dst = append(dst, l.Flags)
	dst = AppendU32(dst, l.Min)
	if l.Flags&1 != 0 {
		dst = AppendU32(dst, l.Max)
	}
	return dst
}

func (d *parser) globalType() GlobalType {
	t := d.valType()
	m := d.byte()
	if d.err == nil && m > 1 {
		d.fail(fmt.Errorf("malformed mutability 0x%02x", m))
	}
	return GlobalType{Type: t, Mutable: m == 1}
}

func appendGlobalType(dst []byte, g GlobalType) []byte {
	m := byte(0)
	if g.Mutable {
		m = 1
	}
	return append(dst, byte(g.Type), m)
}

func appendName(dst []byte, s string) []byte {
	dst = AppendU32(dst, uint32(len(s)))
	return append(dst, s...)
}
