package shape

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/isle-run/isle/internal/wasm"
)

// nameSection checks the subsections of the "name" section that wazero
// decodes: the module name, function names and local names. wazero
// allocates a slice as long as each name map's count before it reads an
// entry, so each count must fit in the bytes of its subsection, and each
// subsection must end where its size says.
func (s *scanner) nameSection(c *cursor) {
	for c.err == nil && c.p < len(c.b) {
		id := c.byte()
		size := c.u32()
		at := c.base + c.p
		sub := cursor{b: c.bytes(size), base: at}
		if c.err != nil {
			return
		}
		switch id {
		case wasm.NameModule:
			sub.name()
		case wasm.NameFunction:
			nameMap(&sub)
		case wasm.NameLocal:
			n := sub.count(2)
			for i := uint64(0); i < n && sub.err == nil; i++ {
				sub.u32()
				nameMap(&sub)
			}
		default:
			continue // wazero skips the others by their size
		}
		if sub.done(); sub.err != nil {
			c.fail(fmt.Errorf("name subsection %d: %w", id, sub.err))
		}
	}
}

func nameMap(c *cursor) {
	n := c.count(2)
	for i := uint64(0); i < n && c.err == nil; i++ {
		c.u32()
		c.name()
	}
}

// functionName names function idx for an error: "function 12", followed
// by its name from the name section when there is one. It is only called
// once a limit is exceeded, so it may walk the module again.
func (s *scanner) functionName(idx int) string {
	where := "function " + strconv.Itoa(idx)
	if name := lookupName(s.bin, uint32(idx)); name != "" {
		where += " (" + name + ")"
	}
	return where
}

// lookupName finds the name of function idx, or "". It gives up quietly on
// any malformed byte: the name only decorates an error.
func lookupName(bin []byte, idx uint32) string {
	for p := 8; p < len(bin); {
		id := bin[p]
		size, q, err := wasm.ReadU32(bin, p+1)
		if err != nil || uint64(size) > uint64(len(bin)-q) {
			return ""
		}
		p = q + int(size)
		c := cursor{b: bin[q:p]}
		if id != 0 || string(c.bytes(c.u32())) != "name" || c.err != nil {
			continue
		}
		for c.err == nil && c.p < len(c.b) {
			sub, body := c.byte(), cursor{b: c.bytes(c.u32())}
			if sub != wasm.NameFunction || c.err != nil {
				continue
			}
			n := body.count(2)
			for i := uint64(0); i < n && body.err == nil; i++ {
				if body.u32() == idx {
					return printable(body.bytes(body.u32()))
				}
				body.name()
			}
		}
		return ""
	}
	return ""
}

// printable shortens a name and quotes it if it holds anything that could
// break a one-line message.
func printable(name []byte) string {
	const most = 80
	s := string(name)
	if len(s) > most {
		cut := most
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	for _, r := range s {
		if r < ' ' || r == utf8.RuneError || r == 0x7f {
			return strconv.Quote(s)
		}
	}
	return s
}
