package shape

import (
	"errors"
	"fmt"
	"io"

	"github.com/isle-run/isle/internal/wasm"
)

// codeScanner walks function bodies. Its reader, instruction and label
// stack are reused from one body to the next.
type codeScanner struct {
	r      wasm.Reader
	in     wasm.Instr
	labels []label
	cost   fnCost
}

// label is one open block, loop or if.
type label struct {
	accessed uint64 // fnCost.accesses when it opened
	arity    uint32 // values a branch to it carries
	values   uint32 // values it takes and gives: params plus results
}

func (s *scanner) codeSection(c *cursor) error {
	n := c.count(2)
	if err := s.see(limFunctions, module, s.funcImports+n); err != nil {
		return err
	}
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
		if err := s.body(fn, body, off); err != nil {
			return err
		}
	}
	return nil
}

// body walks one function body at offset off of the module.
func (s *scanner) body(fn place, body []byte, off int) error {
	typ := s.funcType(uint32(fn.index))
	c := cursor{b: body, base: off}
	decls := c.count(2)
	locals := uint64(typ.params)
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
	cost := &s.code.cost
	*cost = fnCost{locals: locals}
	cost.enter(typ.results)
	if err := s.instructions(fn, body[c.p:], off+c.p, typ); err != nil {
		return err
	}
	w := cost.work()
	if err := s.see(limFunctionWork, fn, w); err != nil {
		return err
	}
	s.work = satAdd(s.work, w)
	return s.see(limCompileWork, module, s.work)
}

// instructions walks a function's expression: how deep blocks nest, how
// many targets each br_table has, and what the compiler will make of it.
func (s *scanner) instructions(fn place, expr []byte, off int, typ arity) error {
	r, in, cost := &s.code.r, &s.code.in, &s.code.cost
	r.Reset(expr)
	s.code.labels = s.code.labels[:0]
	for {
		p := r.Pos()
		if p < len(expr) && plainOps[expr[p]] {
			// Most instructions are one byte with no immediates; they need
			// neither the reader nor the switch below.
			cost.op(wasm.Opcode(expr[p]))
			r.Seek(p + 1)
			continue
		}
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
				return nil
			}
			return malformed(wasm.SectionCode, fmt.Errorf("function %d at offset %d: %w", fn.index, off, err))
		}
		cost.op(in.Op)
		switch in.Op {
		case wasm.OpBlock, wasm.OpLoop, wasm.OpIf:
			if err := s.open(fn, in); err != nil {
				return err
			}
		case wasm.OpEnd:
			if len(s.code.labels) == 0 {
				if r.Pos() != len(expr) {
					return malformed(wasm.SectionCode, fmt.Errorf("function %d at offset %d: code after the end of the function", fn.index, off+in.Pos))
				}
				cost.values += uint64(typ.results)
				continue
			}
			s.close()
		case wasm.OpBr, wasm.OpBrIf:
			cost.values += uint64(s.labelArity(in.Index))
		case wasm.OpReturn:
			cost.values += uint64(typ.results)
		case wasm.OpCall, wasm.OpReturnCall:
			cost.call(s.funcType(in.Index))
		case wasm.OpCallIndirect, wasm.OpReturnCallIndirect:
			cost.call(s.typeArity(in.Index))
		case wasm.OpLocalGet, wasm.OpLocalSet, wasm.OpLocalTee:
			cost.accesses++
		}
	}
}

// plainOps are the one-byte instructions without immediates that neither
// open nor close a label nor move values between labels.
var plainOps = func() (plain [256]bool) {
	for op := range plain {
		info, ok := wasm.Info(wasm.Opcode(op))
		plain[op] = ok && info.Imm == wasm.ImmNone && op < wasm.PrefixMisc
	}
	for _, op := range []wasm.Opcode{wasm.OpElse, wasm.OpEnd, wasm.OpReturn} {
		plain[op] = false
	}
	return plain
}()

// open pushes the label of a block, loop or if.
func (s *scanner) open(fn place, in *wasm.Instr) error {
	var a arity
	if t, ok := in.Block.TypeIndex(); ok {
		a = s.typeArity(t)
	} else if _, ok := in.Block.ValType(); ok {
		a.results = 1
	}
	l := label{accessed: s.code.cost.accesses, arity: a.results, values: a.params + a.results}
	if in.Op == wasm.OpLoop {
		l.arity = a.params
	}
	s.code.cost.values += uint64(l.values)
	s.code.labels = append(s.code.labels, l)
	return s.see(limNesting, fn, uint64(len(s.code.labels)))
}

// close pops the innermost label at its end.
func (s *scanner) close() {
	labels := s.code.labels
	s.code.cost.merge(labels[len(labels)-1])
	s.code.labels = labels[:len(labels)-1]
}

// labelArity is the arity of the label a branch names: 0 is the
// innermost, and the one past the outermost is the function itself.
func (s *scanner) labelArity(depth uint32) uint32 {
	labels := s.code.labels
	if uint64(depth) < uint64(len(labels)) {
		return labels[len(labels)-1-int(depth)].arity
	}
	return s.code.cost.results
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
		cost := &s.code.cost
		cost.op(wasm.OpBrTable)
		cost.brTable(uint64(n) + 1)
		for i := uint64(0); i <= uint64(n) && err == nil; i++ {
			var l uint32
			l, p, err = wasm.ReadU32(expr, p)
			cost.values += uint64(s.labelArity(l))
		}
	}
	if err != nil {
		return 0, malformed(wasm.SectionCode, fmt.Errorf("function %d: br_table: %w", fn.index, err))
	}
	return p, nil
}
