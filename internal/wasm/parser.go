package wasm

import (
	"fmt"
	"unicode/utf8"
)

// parser reads a section payload with a sticky error, so that decoders read
// like the grammar and check for failure once per element.
type parser struct {
	b   []byte
	p   int
	err error
}

func (d *parser) fail(err error) {
	if d.err == nil {
		d.err = fmt.Errorf("at offset %d: %w", d.p, err)
	}
}

func (d *parser) u32() uint32 {
	if d.err != nil {
		return 0
	}
	v, p, err := ReadU32(d.b, d.p)
	if err != nil {
		d.fail(err)
		return 0
	}
	d.p = p
	return v
}

func (d *parser) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.p >= len(d.b) {
		d.fail(ErrUnexpectedEnd)
		return 0
	}
	c := d.b[d.p]
	d.p++
	return c
}

func (d *parser) bytes(n uint32) []byte {
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(d.b)-d.p) {
		d.fail(ErrUnexpectedEnd)
		return nil
	}
	v := d.b[d.p : d.p+int(n)]
	d.p += int(n)
	return v
}

// name reads a length-prefixed UTF-8 string.
func (d *parser) name() string {
	v := d.bytes(d.u32())
	if d.err == nil && !utf8.Valid(v) {
		d.fail(fmt.Errorf("malformed UTF-8 encoding"))
	}
	return string(v)
}

// count reads a vector length and checks that the bytes left can hold that
// many elements of at least minSize bytes each, so that a hostile count
// cannot make a decoder allocate gigabytes.
func (d *parser) count(minSize int) int {
	n := d.u32()
	if d.err == nil && uint64(n)*uint64(minSize) > uint64(len(d.b)-d.p) {
		d.fail(fmt.Errorf("vector of %d elements does not fit in %d bytes: %w", n, len(d.b)-d.p, ErrUnexpectedEnd))
		return 0
	}
	return int(n)
}

func (d *parser) valType() ValType {
	t := ValType(d.byte())
	if d.err == nil && !t.valid() {
		d.fail(fmt.Errorf("malformed value type 0x%02x", byte(t)))
	}
	return t
}

func (d *parser) refType() ValType {
	t := ValType(d.byte())
	if d.err == nil && t != FuncRef && t != ExternRef {
		d.fail(fmt.Errorf("malformed reference type 0x%02x", byte(t)))
	}
	return t
}

// expr reads a constant expression up to and including its final end.
func (d *parser) expr() Expr {
	if d.err != nil {
		return nil
	}
	n, err := exprLen(d.b[d.p:])
	if err != nil {
		d.fail(err)
		return nil
	}
	e := Expr(d.b[d.p : d.p+n])
	d.p += n
	return e
}

// finish reports the sticky error, or an error if bytes are left over.
func (d *parser) finish(what string) error {
	if d.err == nil && d.p != len(d.b) {
		d.fail(fmt.Errorf("%d unexpected bytes at the end of the section", len(d.b)-d.p))
	}
	if d.err != nil {
		return fmt.Errorf("%s section: %w", what, d.err)
	}
	return nil
}

// exprLen is the length of the expression at the start of b, through the
// end that closes it.
func exprLen(b []byte) (int, error) {
	var r Reader
	r.Reset(b)
	var in Instr
	depth := 0
	for {
		if err := r.Next(&in); err != nil {
			return 0, fmt.Errorf("constant expression: %w", err)
		}
		switch in.Op {
		case OpBlock, OpLoop, OpIf:
			depth++
		case OpEnd:
			if depth == 0 {
				return in.End, nil
			}
			depth--
		}
	}
}
