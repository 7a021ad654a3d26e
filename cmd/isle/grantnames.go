package main

import (
	"sort"

	"github.com/isle-run/isle/internal/wasm"
)

// grantNames finds the names a module passes to isle.grant as constants:
// a pointer and a length, the last pair of constants before a call, that
// name a printable string in an active data segment. C and Rust pass them
// straight to the import; Go stores them on its stack before calling the
// SDK's small wrapper of the import, so calls of wrappers (small functions
// that call the import) are read too. A name computed at run time is not
// found, so the list says what the module asks for, not all it may.
func grantNames(m *wasm.Module, imports []wasm.Import) []string {
	grant, nimported := -1, 0
	for _, im := range imports {
		if im.Kind != wasm.KindFunc {
			continue
		}
		if im.Module == "isle" && im.Name == "grant" && grant < 0 {
			grant = nimported
		}
		nimported++
	}
	s := m.Section(wasm.SectionCode)
	if grant < 0 || s == nil {
		return nil
	}
	code, err := wasm.DecodeCode(s.Payload)
	if err != nil {
		return nil
	}
	data := dataSegments(m)
	targets := map[uint32]bool{}
	for _, im := range importsNamed(imports, "isle", "grant") {
		targets[im] = true
	}
	// One level of wrappers: small functions that call the import.
	for i, c := range code {
		if len(c.Body) < 256 && calls(c.Body, targets) {
			targets[uint32(nimported+i)] = true
		}
	}
	seen := map[string]bool{}
	for _, c := range code {
		for _, name := range constantArgs(c.Body, targets, data) {
			seen[name] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// importsNamed returns the function indices of every import of mod.name
// (a module may import one function more than once).
func importsNamed(imports []wasm.Import, mod, name string) []uint32 {
	var out []uint32
	idx := uint32(0)
	for _, im := range imports {
		if im.Kind != wasm.KindFunc {
			continue
		}
		if im.Module == mod && im.Name == name {
			out = append(out, idx)
		}
		idx++
	}
	return out
}

// calls reports whether body calls one of targets.
func calls(body []byte, targets map[uint32]bool) bool {
	found := false
	walk(body, func(in *wasm.Instr) bool {
		found = in.Op == wasm.OpCall && targets[in.Index]
		return !found
	})
	return found
}

// The stores a constant argument may go through.
const (
	opI32Store wasm.Opcode = 0x36
	opI64Store wasm.Opcode = 0x37
)

// constantArgs returns the strings named by the last pointer and length
// constants before each call of a target. A constant counts as an
// argument when it is passed on as it is: to the call, or stored (Go
// passes arguments on its stack in memory); one that feeds arithmetic is
// an offset, not an argument.
func constantArgs(body []byte, targets map[uint32]bool, data []segment) []string {
	var out []string
	var consts []int64 // arguments since the previous call
	var pending *int64
	walk(body, func(in *wasm.Instr) bool {
		if pending != nil {
			switch {
			case in.Op == wasm.OpI32Const, in.Op == wasm.OpI64Const, in.Op == wasm.OpCall,
				in.Op == opI32Store, in.Op == opI64Store:
				consts = append(consts, *pending)
			}
			pending = nil
		}
		switch in.Op {
		case wasm.OpI32Const, wasm.OpI64Const:
			v := in.Int
			pending = &v
		case wasm.OpCall, wasm.OpCallIndirect:
			if in.Op == wasm.OpCall && targets[in.Index] {
				for i := len(consts) - 2; i >= 0; i-- {
					if s, ok := stringAt(data, consts[i], consts[i+1]); ok {
						out = append(out, s)
						break
					}
				}
			}
			consts = consts[:0]
		}
		return true
	})
	return out
}

// walk calls f on each instruction of a function body until f returns
// false or the body ends (or does not decode).
func walk(body []byte, f func(*wasm.Instr) bool) {
	_, start, err := wasm.Locals(body)
	if err != nil {
		return
	}
	var r wasm.Reader
	r.Reset(body)
	r.Seek(start)
	var in wasm.Instr
	for r.Next(&in) == nil && f(&in) {
	}
}

// segment is an active data segment at a constant address.
type segment struct {
	addr int64
	init []byte
}

func dataSegments(m *wasm.Module) []segment {
	s := m.Section(wasm.SectionData)
	if s == nil {
		return nil
	}
	data, err := wasm.DecodeData(s.Payload)
	if err != nil {
		return nil
	}
	var out []segment
	for _, d := range data {
		if d.Flags == 1 || len(d.Offset) < 2 || wasm.Opcode(d.Offset[0]) != wasm.OpI32Const {
			continue
		}
		addr, _, err := wasm.ReadS32(d.Offset, 1)
		if err != nil {
			continue
		}
		out = append(out, segment{addr: int64(uint32(addr)), init: d.Init})
	}
	return out
}

// stringAt returns the n bytes at ptr if a segment holds them all and they
// read as a grant name: 1 to 255 printable ASCII bytes.
func stringAt(data []segment, ptr, n int64) (string, bool) {
	if n < 1 || n > 255 {
		return "", false
	}
	for _, d := range data {
		if ptr < d.addr || ptr+n > d.addr+int64(len(d.init)) {
			continue
		}
		b := d.init[ptr-d.addr : ptr-d.addr+n]
		for _, c := range b {
			if c < 0x20 || c > 0x7e {
				return "", false
			}
		}
		return string(b), true
	}
	return "", false
}
