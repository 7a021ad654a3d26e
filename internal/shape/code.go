package shape

import (
	"errors"
	"fmt"
	"io"

	"github.com/isle-run/isle/internal/wasm"
)

// codeScanner walks function bodies. Its reader and instruction are reused
// from one body to the next.
type codeScanner struct {
	r  wasm.Reader
	in wasm.Instr
}

func (s *scanner) codeSection(c *cursor) error {
	n := c.count(2)
	if err := s.see(limFunctions, module, s.funcImports+n); err != nil {
		return err
	}
	types := cursor{b: s.funcSec}
	for i := uint64(0); i < n && c.err == nil; i++ {
		size := c.u32()
		off := c.base + c.p
		body := c.bytes(size)
		if c.err != nil {
			return nil
		}
		fn := place{"function", int(s.funcImports + i)}
		if err := s.see(limFunctionBytes, fn, uint64(size)); err != nil {
			return err
		}
		// An invalid type index counts no params; wazero rejects it anyway.
		var params uint64
		if t := types.u32(); types.err == nil && uint64(t) < uint64(len(s.typeParams)) {
			params = uint64(s.typeParams[t])
		}
		if err := s.body(fn, body, off, params); err != nil {
			return err
		}
	}
	return nil
}

// body walks one function body at offset off of the module.
func (s *scanner) body(fn place, body []byte, off int, params uint64) error {
	c := cursor{b: body, base: off}
	decls := c.count(2)
	locals := params
	for j := uint64(0); j < decls && c.err == nil; j++ {
		locals += uint64(c.u32())
		c.byte()
	}
	if c.err != nil {
		return malformed(wasm.SectionCode, fmt.Errorf("locals of function %d: %w", fn.index, c.err))
	}
	if err := s.see(limLocals, fn, locals); err != nil {
		return err
	}
	return s.instructions(fn, body[c.p:], off+c.p)
}

// instructions walks a function's expression, tracking how deep blocks
// nest and how many targets each br_table has.
func (s *scanner) instructions(fn place, expr []byte, off int) error {
	r, in := &s.code.r, &s.code.in
	r.Reset(expr)
	var depth, deepest uint64
	for {
		p := r.Pos()
		if p < len(expr) && expr[p] == byte(wasm.OpBrTable) {
			q, err := s.brTable(fn, expr, p+1)
			if err != nil {
				return err
			}
			r.Seek(q)
			continue
		}
		if err := r.Next(in); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return malformed(wasm.SectionCode, fmt.Errorf("function %d at offset %d: %w", fn.index, off, err))
		}
		switch in.Op {
		case wasm.OpBlock, wasm.OpLoop, wasm.OpIf:
			depth++
			if depth > deepest {
				deepest = depth
				if err := s.see(limNesting, fn, depth); err != nil {
					return err
				}
			}
		case wasm.OpEnd:
			if depth == 0 && r.Pos() != len(expr) {
				return malformed(wasm.SectionCode, fmt.Errorf("function %d at offset %d: code after the end of the function", fn.index, off+in.Pos))
			}
			depth--
		}
	}
	return nil
}

// brTable checks the target count of the br_table whose immediates start
// at expr[p] and skips them, returning the offset after the instruction.
// It reads the targets without keeping them, so a hostile count costs no
// memory.
func (s *scanner) brTable(fn place, expr []byte, p int) (int, error) {
	n, p, err := wasm.ReadU32(expr, p)
	if err == nil {
		if err = s.see(limBrTableTargets, fn, uint64(n)+1); err != nil {
			return 0, err
		}
		for i := uint64(0); i <= uint64(n) && err == nil; i++ {
			_, p, err = wasm.ReadU32(expr, p)
		}
	}
	if err != nil {
		return 0, malformed(wasm.SectionCode, fmt.Errorf("function %d: br_table: %w", fn.index, err))
	}
	return p, nil
}
