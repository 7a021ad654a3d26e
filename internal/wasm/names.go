package wasm

// Subsection ids of the "name" custom section, from the spec and the
// extended-name-section proposal.
const (
	NameModule   = 0
	NameFunction = 1
	NameLocal    = 2
	NameLabel    = 3
	NameType     = 4
	NameTable    = 5
	NameMemory   = 6
	NameGlobal   = 7
	NameElem     = 8
	NameData     = 9
	NameField    = 10
	NameTag      = 11
)

// NameSubsection is one subsection of the "name" custom section.
type NameSubsection struct {
	ID      byte
	Payload []byte
}

// DecodeNameSubsections splits a "name" section payload into subsections.
func DecodeNameSubsections(b []byte) ([]NameSubsection, error) {
	d := parser{b: b}
	var out []NameSubsection
	for d.err == nil && d.p < len(b) {
		id := d.byte()
		out = append(out, NameSubsection{ID: id, Payload: d.bytes(d.u32())})
	}
	return out, d.finish("name")
}

// EncodeNameSubsections encodes a "name" section payload.
func EncodeNameSubsections(subs []NameSubsection) []byte {
	var dst []byte
	for _, s := range subs {
		dst = append(dst, s.ID)
		dst = AppendU32(dst, uint32(len(s.Payload)))
		dst = append(dst, s.Payload...)
	}
	return dst
}

// NameAssoc names one index.
type NameAssoc struct {
	Index uint32
	Name  string
}

// IndirectNameAssoc holds the names of the members of one index, such as
// the locals of a function.
type IndirectNameAssoc struct {
	Index uint32
	Names []NameAssoc
}

// DecodeNameMap decodes a subsection that is a name map.
func DecodeNameMap(b []byte) ([]NameAssoc, error) {
	d := parser{b: b}
	m := d.nameMap()
	return m, d.finish("name map")
}

func (d *parser) nameMap() []NameAssoc {
	n := d.count(2)
	out := make([]NameAssoc, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		idx := d.u32()
		out = append(out, NameAssoc{Index: idx, Name: d.name()})
	}
	return out
}

// DecodeIndirectNameMap decodes a subsection that is an indirect name map.
func DecodeIndirectNameMap(b []byte) ([]IndirectNameAssoc, error) {
	d := parser{b: b}
	n := d.count(2)
	out := make([]IndirectNameAssoc, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		idx := d.u32()
		out = append(out, IndirectNameAssoc{Index: idx, Names: d.nameMap()})
	}
	return out, d.finish("indirect name map")
}

// AppendNameMap encodes a name map.
func AppendNameMap(dst []byte, m []NameAssoc) []byte {
	dst = AppendU32(dst, uint32(len(m)))
	for _, a := range m {
		dst = AppendU32(dst, a.Index)
		dst = appendName(dst, a.Name)
	}
	return dst
}

// AppendIndirectNameMap encodes an indirect name map.
func AppendIndirectNameMap(dst []byte, m []IndirectNameAssoc) []byte {
	dst = AppendU32(dst, uint32(len(m)))
	for _, a := range m {
		dst = AppendU32(dst, a.Index)
		dst = AppendNameMap(dst, a.Names)
	}
	return dst
}
