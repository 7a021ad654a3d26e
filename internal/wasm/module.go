// Package wasm reads and writes the WebAssembly 2.0 binary format, with the
// tail-call instructions that wazero also accepts. It is the codec under
// isle's module rewriter: a module is a list of raw sections in their
// original order, typed codecs decode the sections a rewriter needs, and an
// instruction Reader walks code bodies.
//
// Nothing here panics on hostile bytes: every decoder bounds-checks and
// returns an error, and vector counts are checked against the bytes left
// before anything is allocated.
package wasm

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// SectionID identifies a section.
type SectionID byte

// Section identifiers of the WebAssembly 2.0 binary format.
const (
	SectionCustom    SectionID = 0
	SectionType      SectionID = 1
	SectionImport    SectionID = 2
	SectionFunction  SectionID = 3
	SectionTable     SectionID = 4
	SectionMemory    SectionID = 5
	SectionGlobal    SectionID = 6
	SectionExport    SectionID = 7
	SectionStart     SectionID = 8
	SectionElement   SectionID = 9
	SectionCode      SectionID = 10
	SectionData      SectionID = 11
	SectionDataCount SectionID = 12
)

var sectionNames = [...]string{"custom", "type", "import", "function", "table",
	"memory", "global", "export", "start", "element", "code", "data", "data count"}

// String names the section as the spec does.
func (id SectionID) String() string {
	if int(id) < len(sectionNames) {
		return sectionNames[id]
	}
	return fmt.Sprintf("section(%d)", byte(id))
}

// order is the position each non-custom section must take: data count sits
// between element and code.
func (id SectionID) order() int {
	switch id {
	case SectionDataCount:
		return 10
	case SectionCode:
		return 11
	case SectionData:
		return 12
	}
	return int(id)
}

// Magic and Version start every module binary.
var (
	Magic   = []byte{0x00, 0x61, 0x73, 0x6d}
	Version = []byte{0x01, 0x00, 0x00, 0x00}
)

// Section is one section as it appears in the binary.
type Section struct {
	ID SectionID
	// Name is the name of a custom section; empty for the others.
	Name string
	// Payload is the content after the section header. For a custom section
	// it excludes the name.
	Payload []byte
	// Offset is where Payload started in the decoded binary. It is 0 for
	// sections built in memory.
	Offset int

	// Widths of the size fields as read, so that an untouched module encodes
	// to the same bytes even when its producer padded them.
	sizeWidth, nameWidth int
}

// Module is a decoded module: its sections in their original order.
type Module struct {
	Sections []Section
}

// Decode splits a module binary into sections. It checks the header, the
// section sizes, the order of the non-custom sections (each at most once)
// and the names of custom sections. The sections alias b.
func Decode(b []byte) (*Module, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], Magic) {
		return nil, fmt.Errorf("magic header not detected")
	}
	if !bytes.Equal(b[4:8], Version) {
		return nil, fmt.Errorf("unknown binary version")
	}
	m := &Module{}
	last := 0
	for p := 8; p < len(b); {
		start := p
		id := SectionID(b[p])
		size, q, err := ReadU32(b, p+1)
		if err != nil {
			return nil, fmt.Errorf("section at offset %d: size: %w", start, err)
		}
		if uint64(size) > uint64(len(b)-q) {
			return nil, fmt.Errorf("%s section at offset %d: size %d exceeds the %d bytes left: %w",
				id, start, size, len(b)-q, ErrUnexpectedEnd)
		}
		s := Section{ID: id, Payload: b[q : q+int(size)], Offset: q, sizeWidth: q - p - 1}
		p = q + int(size)
		switch {
		case id == SectionCustom:
			if err := s.splitName(); err != nil {
				return nil, fmt.Errorf("custom section at offset %d: %w", start, err)
			}
		case id == 13:
			return nil, fmt.Errorf("tag section at offset %d: exception handling is not supported", start)
		case id > SectionDataCount:
			return nil, fmt.Errorf("malformed section id %d at offset %d", byte(id), start)
		default:
			if id.order() <= last {
				return nil, fmt.Errorf("%s section at offset %d: unexpected content after last section (sections out of order or repeated)", id, start)
			}
			last = id.order()
		}
		m.Sections = append(m.Sections, s)
	}
	return m, nil
}

// splitName moves a custom section's name out of its payload.
func (s *Section) splitName() error {
	n, q, err := ReadU32(s.Payload, 0)
	if err != nil {
		return fmt.Errorf("name: %w", err)
	}
	if uint64(n) > uint64(len(s.Payload)-q) {
		return fmt.Errorf("name: %w", ErrUnexpectedEnd)
	}
	name := s.Payload[q : q+int(n)]
	if !utf8.Valid(name) {
		return fmt.Errorf("malformed UTF-8 encoding in custom section name")
	}
	s.Name = string(name)
	s.nameWidth = q
	s.Offset += q + int(n)
	s.Payload = s.Payload[q+int(n):]
	return nil
}

// Section returns the first section with the given id, or nil.
func (m *Module) Section(id SectionID) *Section {
	for i := range m.Sections {
		if m.Sections[i].ID == id {
			return &m.Sections[i]
		}
	}
	return nil
}

// Custom returns the first custom section with the given name, or nil.
func (m *Module) Custom(name string) *Section {
	for i := range m.Sections {
		if s := &m.Sections[i]; s.ID == SectionCustom && s.Name == name {
			return s
		}
	}
	return nil
}

// Put replaces the payload of the section with the given id, or inserts a
// new section at the place the spec's order requires. The id must not be
// SectionCustom.
func (m *Module) Put(id SectionID, payload []byte) {
	if s := m.Section(id); s != nil {
		s.Payload = payload
		return
	}
	at := len(m.Sections)
	for i, s := range m.Sections {
		if s.ID != SectionCustom && s.ID.order() > id.order() {
			at = i
			break
		}
	}
	// With no later section, go before the trailing custom sections
	// (names, DWARF), which conventionally come last.
	if at == len(m.Sections) {
		for at > 0 && m.Sections[at-1].ID == SectionCustom {
			at--
		}
	}
	m.Sections = append(m.Sections, Section{})
	copy(m.Sections[at+1:], m.Sections[at:])
	m.Sections[at] = Section{ID: id, Payload: payload}
}

// Size is the length of the encoded module.
func (m *Module) Size() int {
	n := 8
	for i := range m.Sections {
		n += m.Sections[i].encodedLen()
	}
	return n
}

func (s *Section) contentLen() int {
	if s.ID != SectionCustom {
		return len(s.Payload)
	}
	nl := len(s.Name)
	return max(U32Len(uint32(nl)), s.nameWidth) + nl + len(s.Payload)
}

func (s *Section) encodedLen() int {
	n := s.contentLen()
	return 1 + max(U32Len(uint32(n)), s.sizeWidth) + n
}

// Encode writes the module. Size fields keep the width they were read with,
// so decoding and encoding an untouched module gives back the same bytes.
func (m *Module) Encode() []byte {
	return m.AppendTo(make([]byte, 0, m.Size()))
}

// AppendTo appends the encoded module to dst.
func (m *Module) AppendTo(dst []byte) []byte {
	dst = append(dst, Magic...)
	dst = append(dst, Version...)
	for i := range m.Sections {
		s := &m.Sections[i]
		dst = append(dst, byte(s.ID))
		dst = AppendU32Width(dst, uint32(s.contentLen()), s.sizeWidth)
		if s.ID == SectionCustom {
			dst = AppendU32Width(dst, uint32(len(s.Name)), s.nameWidth)
			dst = append(dst, s.Name...)
		}
		dst = append(dst, s.Payload...)
	}
	return dst
}
