package shape

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	"github.com/isle-run/isle/internal/wasm"
)

// Check reports whether bin fits lim, zero fields taking their defaults. It
// walks the binary once, in order, and stops at the first limit exceeded,
// returning a *LimitError; a binary too malformed to walk gives an error
// that names where. Every error wraps ErrShape.
//
// Check measures; it does not validate. A module it accepts may still be
// invalid, and wazero will say so, but wazero will not spend more than the
// limits allow in finding out. Check allocates nothing in proportion to any
// count in the binary.
func Check(bin []byte, lim Limits) error {
	s := scanner{bin: bin}
	lim = lim.withDefaults()
	for i, f := range lim.fields() {
		s.lim[i] = uint64(max(*f, 0))
	}
	return s.module()
}

// Measure returns the shape of bin as Limits: each field holds the module's
// own value (a count, or the largest value of one item), and zero means
// zero. Check(bin, l) accepts bin exactly when every field of Measure(bin)
// is at most the corresponding field of l. Measure walks everything, so it
// costs as much as Check of a module that fits.
func Measure(bin []byte) (Limits, error) {
	s := scanner{bin: bin}
	for i := range s.lim {
		s.lim[i] = math.MaxInt
	}
	err := s.module()
	var l Limits
	for i, f := range l.fields() {
		*f = int(s.got[i])
	}
	return l, err
}

// Indices into scanner.lim and scanner.got, in the order of fieldNames.
const (
	limModuleBytes = iota
	limCustomSections
	limTypes
	limTypeArity
	limImports
	limFunctions
	limTables
	limTableMin
	limMemoryMinPages
	limGlobals
	limExports
	limElemSegments
	limElemSegmentItems
	limDataSegments
	limFunctionBytes
	limLocals
	limNesting
	limBrTableTargets
	limFunctionWork
	limCompileWork
	numLimits
)

// place names an item for a LimitError without formatting anything until
// an error needs it.
type place struct {
	what  string // "module", "type", "table", "function", …
	index int    // the item's index; unused for "module"
}

var module = place{what: "module"}

// scanner holds what one walk over a module needs.
type scanner struct {
	bin      []byte
	lim, got [numLimits]uint64

	funcs, tables, globals, customs uint64 // counts so far, imports included
	funcImports                     uint64
	// types holds the arity of each type and funcTypes the type index of
	// each function, imports first; each is allocated once its count is
	// checked.
	types     []arity
	funcTypes []uint32
	code      codeScanner
	work      uint64 // compile work of the functions so far
}

// arity is what a function type moves: its params and results.
type arity struct{ params, results uint32 }

// funcType returns the arity of function f's type; an invalid index gives
// zero, and wazero will refuse the module anyway.
func (s *scanner) funcType(f uint32) arity {
	if uint64(f) < uint64(len(s.funcTypes)) {
		return s.typeArity(s.funcTypes[f])
	}
	return arity{}
}

func (s *scanner) typeArity(t uint32) arity {
	if uint64(t) < uint64(len(s.types)) {
		return s.types[t]
	}
	return arity{}
}

// see records value v of limit id at p and fails if it is over the limit.
func (s *scanner) see(id int, p place, v uint64) error {
	if v > s.got[id] {
		s.got[id] = v
	}
	if v <= s.lim[id] {
		return nil
	}
	where := p.what
	switch p.what {
	case "module":
	case "function":
		where = s.functionName(p.index)
	default:
		where += " " + strconv.Itoa(p.index)
	}
	return &LimitError{Limit: fieldNames[id], Where: where, Value: v, Max: s.lim[id]}
}

// malformed wraps an error that stops the walk.
func malformed(id wasm.SectionID, err error) error {
	return fmt.Errorf("%w: malformed %s section: %w", ErrShape, id, err)
}

// order is the position a non-custom section must take: data count sits
// between element and code.
func order(id wasm.SectionID) int {
	switch id {
	case wasm.SectionDataCount:
		return 10
	case wasm.SectionCode:
		return 11
	case wasm.SectionData:
		return 12
	}
	return int(id)
}

// module walks the sections in order.
func (s *scanner) module() error {
	b := s.bin
	if err := s.see(limModuleBytes, module, uint64(len(b))); err != nil {
		return err
	}
	if len(b) < 8 || !bytes.Equal(b[:4], wasm.Magic) || !bytes.Equal(b[4:8], wasm.Version) {
		return fmt.Errorf("%w: not a WebAssembly 1.0 binary (bad magic or version)", ErrShape)
	}
	last := 0
	for p := 8; p < len(b); {
		id := wasm.SectionID(b[p])
		size, q, err := wasm.ReadU32(b, p+1)
		if err == nil && uint64(size) > uint64(len(b)-q) {
			err = fmt.Errorf("size %d exceeds the %d bytes left: %w", size, len(b)-q, wasm.ErrUnexpectedEnd)
		}
		if err != nil {
			return malformed(id, fmt.Errorf("at offset %d: %w", p, err))
		}
		if id != wasm.SectionCustom {
			if id > wasm.SectionDataCount {
				return fmt.Errorf("%w: unknown section id %d at offset %d", ErrShape, byte(id), p)
			}
			if order(id) <= last {
				return fmt.Errorf("%w: %s section at offset %d is out of order or repeated", ErrShape, id, p)
			}
			last = order(id)
		}
		c := cursor{b: b[q : q+int(size)], base: q}
		if err := s.section(id, &c); err != nil {
			return err
		}
		if c.done(); c.err != nil {
			return malformed(id, c.err)
		}
		p = q + int(size)
	}
	return nil
}

// section walks one section's payload.
func (s *scanner) section(id wasm.SectionID, c *cursor) error {
	switch id {
	case wasm.SectionCustom:
		return s.custom(c)
	case wasm.SectionType:
		return s.typeSection(c)
	case wasm.SectionImport:
		return s.imports(c)
	case wasm.SectionFunction:
		n := c.count(1)
		s.funcs += n
		if err := s.see(limFunctions, module, s.funcs); err != nil {
			return err
		}
		for i := uint64(0); i < n && c.err == nil; i++ {
			s.funcTypes = append(s.funcTypes, c.u32())
		}
	case wasm.SectionTable:
		return s.tableSection(c)
	case wasm.SectionMemory:
		n := c.count(2)
		for i := uint64(0); i < n && c.err == nil; i++ {
			if err := s.see(limMemoryMinPages, place{"memory", int(i)}, uint64(c.limits())); err != nil {
				return err
			}
		}
	case wasm.SectionGlobal:
		return s.globalSection(c)
	case wasm.SectionExport:
		n := c.count(3)
		if err := s.see(limExports, module, n); err != nil {
			return err
		}
		for i := uint64(0); i < n && c.err == nil; i++ {
			c.name()
			c.byte()
			c.u32()
		}
	case wasm.SectionStart, wasm.SectionDataCount:
		c.u32()
	case wasm.SectionElement:
		return s.elements(c)
	case wasm.SectionCode:
		return s.codeSection(c)
	case wasm.SectionData:
		return s.data(c)
	}
	return nil
}

func (s *scanner) typeSection(c *cursor) error {
	n := c.count(3)
	if err := s.see(limTypes, module, n); err != nil {
		return err
	}
	s.types = make([]arity, n)
	for i := range s.types {
		if form := c.byte(); c.err == nil && form != 0x60 {
			c.fail(fmt.Errorf("type %d: unsupported type form 0x%02x", i, form))
		}
		params := c.count(1)
		c.skip(uint32(params))
		results := c.count(1)
		c.skip(uint32(results))
		if c.err != nil {
			return nil
		}
		if err := s.see(limTypeArity, place{"type", i}, params+results); err != nil {
			return err
		}
		s.types[i] = arity{uint32(params), uint32(results)}
	}
	return nil
}

func (s *scanner) imports(c *cursor) error {
	n := c.count(4)
	if err := s.see(limImports, module, n); err != nil {
		return err
	}
	for i := uint64(0); i < n && c.err == nil; i++ {
		c.name()
		c.name()
		var err error
		switch kind := c.byte(); kind {
		case 0: // function
			s.funcTypes = append(s.funcTypes, c.u32())
			s.funcs++
			s.funcImports++
			err = s.see(limFunctions, module, s.funcs)
		case 1:
			err = s.table(c)
		case 2:
			err = s.see(limMemoryMinPages, place{"memory", 0}, uint64(c.limits()))
		case 3:
			c.byte()
			c.byte()
			s.globals++
			err = s.see(limGlobals, module, s.globals)
		default:
			c.fail(fmt.Errorf("import %d: malformed import kind 0x%02x", i, kind))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// table reads one table type, imported or defined.
func (s *scanner) table(c *cursor) error {
	c.byte() // reference type
	min := c.limits()
	if c.err != nil {
		return nil
	}
	s.tables++
	if err := s.see(limTables, module, s.tables); err != nil {
		return err
	}
	return s.see(limTableMin, place{"table", int(s.tables - 1)}, uint64(min))
}

func (s *scanner) tableSection(c *cursor) error {
	n := c.count(3)
	if err := s.see(limTables, module, s.tables+n); err != nil {
		return err
	}
	for i := uint64(0); i < n && c.err == nil; i++ {
		if err := s.table(c); err != nil {
			return err
		}
	}
	return nil
}

func (s *scanner) globalSection(c *cursor) error {
	n := c.count(3)
	s.globals += n
	if err := s.see(limGlobals, module, s.globals); err != nil {
		return err
	}
	for i := uint64(0); i < n && c.err == nil; i++ {
		c.byte()
		c.byte()
		c.expr()
	}
	return nil
}

func (s *scanner) elements(c *cursor) error {
	n := c.count(2)
	if err := s.see(limElemSegments, module, n); err != nil {
		return err
	}
	for i := 0; i < int(n) && c.err == nil; i++ {
		flags := c.u32()
		if c.err == nil && flags > 7 {
			c.fail(fmt.Errorf("element segment %d: malformed kind %d", i, flags))
			return nil
		}
		if flags&3 == 2 {
			c.u32() // table index
		}
		if flags&1 == 0 {
			c.expr() // offset of an active segment
		}
		if flags&3 != 0 {
			c.byte() // element kind or reference type
		}
		items := c.count(1)
		if c.err != nil {
			return nil
		}
		if err := s.see(limElemSegmentItems, place{"element segment", i}, items); err != nil {
			return err
		}
		for j := uint64(0); j < items && c.err == nil; j++ {
			if flags&4 == 0 {
				c.u32()
			} else {
				c.expr()
			}
		}
	}
	return nil
}

func (s *scanner) data(c *cursor) error {
	n := c.count(2) // a passive segment can be two bytes
	if err := s.see(limDataSegments, module, n); err != nil {
		return err
	}
	for i := uint64(0); i < n && c.err == nil; i++ {
		switch flags := c.u32(); flags {
		case 0:
			c.expr()
		case 1:
		case 2:
			c.u32()
			c.expr()
		default:
			c.fail(fmt.Errorf("data segment %d: malformed kind %d", i, flags))
		}
		c.name() // the bytes
	}
	return nil
}

func (s *scanner) custom(c *cursor) error {
	s.customs++
	if err := s.see(limCustomSections, module, s.customs); err != nil {
		return err
	}
	name := c.bytes(c.u32())
	if c.err == nil && string(name) == "name" {
		s.nameSection(c)
	}
	c.p = len(c.b)
	return nil
}
