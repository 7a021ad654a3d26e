package wasm

import "fmt"

// Element is one element segment, in any of the eight encodings. Flags
// keeps the encoding as read: bit 0 passive or declarative, bit 1 explicit
// table (active) or declarative (otherwise), bit 2 expressions instead of
// function indices.
type Element struct {
	Flags  uint32
	Table  uint32  // active segments with an explicit table; else 0
	Offset Expr    // active segments only
	Type   ValType // element type; funcref for the encodings without one
	Funcs  []uint32
	Exprs  []Expr
}

// Active reports whether the segment is copied into a table at instantiation.
func (e *Element) Active() bool { return e.Flags&1 == 0 }

// DecodeElements decodes an element section payload.
func DecodeElements(b []byte) ([]Element, error) {
	d := parser{b: b}
	n := d.count(2)
	out := make([]Element, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.element(i))
	}
	return out, d.finish("element")
}

func (d *parser) element(i int) Element {
	e := Element{Flags: d.u32(), Type: FuncRef}
	if d.err == nil && e.Flags > 7 {
		d.fail(fmt.Errorf("element %d: malformed elements segment kind %d", i, e.Flags))
		return e
	}
	if e.Flags&3 == 2 {
		e.Table = d.u32()
	}
	if e.Active() {
		e.Offset = d.expr()
	}
	if e.Flags&3 != 0 { // the encodings 0 and 4 have no type byte
		if e.Flags&4 == 0 {
			if k := d.byte(); d.err == nil && k != 0 {
				d.fail(fmt.Errorf("element %d: malformed element kind 0x%02x", i, k))
			}
		} else {
			e.Type = d.refType()
		}
	}
	m := d.count(1)
	if e.Flags&4 == 0 {
		e.Funcs = make([]uint32, m)
		for j := range e.Funcs {
			e.Funcs[j] = d.u32()
		}
		return e
	}
	e.Exprs = make([]Expr, m)
	for j := range e.Exprs {
		e.Exprs[j] = d.expr()
	}
	return e
}

// EncodeElements encodes an element section payload.
func EncodeElements(elems []Element) []byte {
	dst := AppendU32(nil, uint32(len(elems)))
	for i := range elems {
		e := &elems[i]
		dst = AppendU32(dst, e.Flags)
		if e.Flags&3 == 2 {
			dst = AppendU32(dst, e.Table)
		}
		if e.Active() {
			dst = append(dst, e.Offset...)
		}
		if e.Flags&3 != 0 {
			if e.Flags&4 == 0 {
				dst = append(dst, 0)
			} else {
				dst = append(dst, byte(e.Type))
			}
		}
		if e.Flags&4 == 0 {
			dst = AppendU32(dst, uint32(len(e.Funcs)))
			for _, f := range e.Funcs {
				dst = AppendU32(dst, f)
			}
			continue
		}
		dst = AppendU32(dst, uint32(len(e.Exprs)))
		for _, x := range e.Exprs {
			dst = append(dst, x...)
		}
	}
	return dst
}

// Data is one data segment. Flags keeps the encoding: 0 active in memory 0,
// 1 passive, 2 active with an explicit memory.
type Data struct {
	Flags  uint32
	Memory uint32
	Offset Expr
	Init   []byte
}

// DecodeData decodes a data section payload.
func DecodeData(b []byte) ([]Data, error) {
	d := parser{b: b}
	n := d.count(2)
	out := make([]Data, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		s := Data{Flags: d.u32()}
		if d.err == nil && s.Flags > 2 {
			d.fail(fmt.Errorf("data %d: malformed data segment kind %d", i, s.Flags))
			break
		}
		if s.Flags == 2 {
			s.Memory = d.u32()
		}
		if s.Flags != 1 {
			s.Offset = d.expr()
		}
		s.Init = d.bytes(d.u32())
		out = append(out, s)
	}
	return out, d.finish("data")
}

// EncodeData encodes a data section payload.
func EncodeData(data []Data) []byte {
	dst := AppendU32(nil, uint32(len(data)))
	for _, s := range data {
		dst = AppendU32(dst, s.Flags)
		if s.Flags == 2 {
			dst = AppendU32(dst, s.Memory)
		}
		if s.Flags != 1 {
			dst = append(dst, s.Offset...)
		}
		dst = AppendU32(dst, uint32(len(s.Init)))
		dst = append(dst, s.Init...)
	}
	return dst
}

// Code is one function body: its local declarations followed by its
// expression. Offset is where Body starts within the code section payload,
// after the body's size field.
type Code struct {
	Body   []byte
	Offset int
}

// DecodeCode splits a code section payload into bodies. The bodies alias b.
func DecodeCode(b []byte) ([]Code, error) {
	d := parser{b: b}
	n := d.count(2)
	out := make([]Code, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		size := d.u32()
		start := d.p
		body := d.bytes(size)
		if d.err == nil && size == 0 {
			d.fail(fmt.Errorf("function body %d is empty", i))
		}
		out = append(out, Code{Body: body, Offset: start})
	}
	return out, d.finish("code")
}

// EncodeCode encodes a code section payload.
func EncodeCode(code []Code) []byte {
	dst := AppendU32(nil, uint32(len(code)))
	for _, c := range code {
		dst = AppendU32(dst, uint32(len(c.Body)))
		dst = append(dst, c.Body...)
	}
	return dst
}

// LocalDecl declares Count locals of one type.
type LocalDecl struct {
	Count uint32
	Type  ValType
}

// Locals reads the local declarations at the start of a body. It returns
// the total number of locals declared and where the expression starts.
func Locals(body []byte) (total uint64, exprStart int, err error) {
	_, total, exprStart, err = localDecls(body, false)
	return total, exprStart, err
}

// LocalDecls is Locals that also returns the declarations.
func LocalDecls(body []byte) ([]LocalDecl, int, error) {
	decls, _, p, err := localDecls(body, true)
	return decls, p, err
}

func localDecls(body []byte, keep bool) ([]LocalDecl, uint64, int, error) {
	d := parser{b: body}
	n := d.count(2)
	var decls []LocalDecl
	if keep {
		decls = make([]LocalDecl, 0, n)
	}
	var total uint64
	for i := 0; i < n && d.err == nil; i++ {
		c := d.u32()
		t := d.valType()
		total += uint64(c)
		if keep {
			decls = append(decls, LocalDecl{Count: c, Type: t})
		}
	}
	if d.err == nil && total > 1<<32-1 {
		d.fail(fmt.Errorf("too many locals: %d", total))
	}
	if d.err != nil {
		return nil, 0, 0, fmt.Errorf("locals: %w", d.err)
	}
	return decls, total, d.p, nil
}

// AppendLocalDecls encodes local declarations.
func AppendLocalDecls(dst []byte, decls []LocalDecl) []byte {
	dst = AppendU32(dst, uint32(len(decls)))
	for _, l := range decls {
		dst = AppendU32(dst, l.Count)
		dst = append(dst, byte(l.Type))
	}
	return dst
}
