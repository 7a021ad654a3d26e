package shape

import (
	"errors"
	"fmt"
	"io"

	"github.com/isle-run/isle/internal/wasm"
)

// cursor walks a section payload with a sticky error. It only skips and
// counts: nothing it reads is kept, so walking costs no allocation.
type cursor struct {
	b    []byte
	p    int
	base int // offset of b[0] in the module, for messages
	err  error
}

func (c *cursor) fail(err error) {
	if c.err == nil {
		c.err = fmt.Errorf("at offset %d: %w", c.base+c.p, err)
	}
}

func (c *cursor) u32() uint32 {
	if c.err != nil {
		return 0
	}
	v, p, err := wasm.ReadU32(c.b, c.p)
	if err != nil {
		c.fail(err)
		return 0
	}
	c.p = p
	return v
}

func (c *cursor) byte() byte {
	if c.err != nil {
		return 0
	}
	if c.p >= len(c.b) {
		c.fail(wasm.ErrUnexpectedEnd)
		return 0
	}
	c.p++
	return c.b[c.p-1]
}

// skip passes n bytes, which must be there.
func (c *cursor) skip(n uint32) {
	if c.err == nil && uint64(n) > uint64(len(c.b)-c.p) {
		c.fail(wasm.ErrUnexpectedEnd)
	}
	if c.err == nil {
		c.p += int(n)
	}
}

// bytes returns the next n bytes, which must be there.
func (c *cursor) bytes(n uint32) []byte {
	start := c.p
	c.skip(n)
	if c.err != nil {
		return nil
	}
	return c.b[start:c.p]
}

// name skips a length-prefixed string.
func (c *cursor) name() { c.skip(c.u32()) }

// count reads a vector length and checks that the bytes left can hold that
// many elements of at least minSize bytes each: wazero allocates a slice of
// that length before it reads a single element.
func (c *cursor) count(minSize int) uint64 {
	n := c.u32()
	if c.err == nil && uint64(n)*uint64(minSize) > uint64(len(c.b)-c.p) {
		c.fail(fmt.Errorf("vector of %d elements does not fit in the %d bytes left: %w",
			n, len(c.b)-c.p, wasm.ErrUnexpectedEnd))
		return 0
	}
	return uint64(n)
}

// limits reads the limits of a table or memory and returns the minimum.
func (c *cursor) limits() uint32 {
	flags := c.byte()
	if c.err == nil && flags > 3 {
		c.fail(fmt.Errorf("malformed limits flags 0x%02x", flags))
	}
	min := c.u32()
	if flags&1 != 0 {
		c.u32()
	}
	return min
}

// constOps are the first bytes of the instructions a constant expression
// may hold in WebAssembly 2.0 (0xfd for v128.const).
var constOps = [256]bool{0x0b: true, 0x23: true, 0x41: true, 0x42: true,
	0x43: true, 0x44: true, 0xd0: true, 0xd2: true, 0xfd: true}

// expr skips a constant expression through the end that closes it.
func (c *cursor) expr() {
	if c.err != nil {
		return
	}
	var r wasm.Reader
	var in wasm.Instr
	r.Reset(c.b[c.p:])
	for {
		at := c.p + r.Pos()
		if at < len(c.b) && !constOps[c.b[at]] {
			c.p = at
			c.fail(fmt.Errorf("opcode 0x%02x in a constant expression", c.b[at]))
			return
		}
		if err := r.Next(&in); err != nil {
			if errors.Is(err, io.EOF) {
				err = wasm.ErrUnexpectedEnd
			}
			c.fail(fmt.Errorf("constant expression: %w", err))
			return
		}
		if in.Op == wasm.OpEnd {
			c.p += in.End
			return
		}
	}
}

// done fails if bytes are left over.
func (c *cursor) done() {
	if c.err == nil && c.p != len(c.b) {
		c.fail(fmt.Errorf("%d unexpected bytes at the end of the section", len(c.b)-c.p))
	}
}
