package wasm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// spectestDir finds the converted spec tests.
func spectestDir(t testing.TB) string { return testwasm.SpecTests(t) }

func spectestModules(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(spectestDir(t), "*.wasm"))
	if err != nil || len(files) < 1000 {
		t.Fatalf("expected over 1000 spec test modules, found %d (%v)", len(files), err)
	}
	return files
}

// typedCodec pairs a section's decoder with its encoder, through any.
type typedCodec struct {
	decode func([]byte) (any, error)
	encode func(any) []byte
}

var codecs = map[SectionID]typedCodec{
	SectionType: {func(b []byte) (any, error) { return DecodeTypes(b) },
		func(v any) []byte { return EncodeTypes(v.([]FuncType)) }},
	SectionImport: {func(b []byte) (any, error) { return DecodeImports(b) },
		func(v any) []byte { return EncodeImports(v.([]Import)) }},
	SectionFunction: {func(b []byte) (any, error) { return DecodeIndices(b, "function") },
		func(v any) []byte { return EncodeIndices(v.([]uint32)) }},
	SectionTable: {func(b []byte) (any, error) { return DecodeTables(b) },
		func(v any) []byte { return EncodeTables(v.([]TableType)) }},
	SectionMemory: {func(b []byte) (any, error) { return DecodeMemories(b) },
		func(v any) []byte { return EncodeMemories(v.([]Limits)) }},
	SectionGlobal: {func(b []byte) (any, error) { return DecodeGlobals(b) },
		func(v any) []byte { return EncodeGlobals(v.([]Global)) }},
	SectionExport: {func(b []byte) (any, error) { return DecodeExports(b) },
		func(v any) []byte { return EncodeExports(v.([]Export)) }},
	SectionStart: {func(b []byte) (any, error) { return DecodeU32(b, "start") },
		func(v any) []byte { return AppendU32(nil, v.(uint32)) }},
	SectionElement: {func(b []byte) (any, error) { return DecodeElements(b) },
		func(v any) []byte { return EncodeElements(v.([]Element)) }},
	SectionDataCount: {func(b []byte) (any, error) { return DecodeU32(b, "data count") },
		func(v any) []byte { return AppendU32(nil, v.(uint32)) }},
	SectionCode: {func(b []byte) (any, error) { return DecodeCode(b) },
		func(v any) []byte { return EncodeCode(v.([]Code)) }},
	SectionData: {func(b []byte) (any, error) { return DecodeData(b) },
		func(v any) []byte { return EncodeData(v.([]Data)) }},
}

type roundTripStats struct {
	modules, refused, sections, exact, canonicalized int
	instrs, instrsExact                              int
}

// roundTripSection checks that a typed section re-encodes to its bytes, or,
// when the producer used non-canonical encodings, to bytes that decode to
// the same value.
func roundTripSection(s *Section, st *roundTripStats) error {
	c, ok := codecs[s.ID]
	if !ok {
		return nil
	}
	v, err := c.decode(s.Payload)
	if err != nil {
		return nil // a malformed section: the malformed tests cover errors
	}
	st.sections++
	out := c.encode(v)
	if bytes.Equal(out, s.Payload) {
		st.exact++
		return nil
	}
	v2, err := c.decode(out)
	if err != nil {
		return fmt.Errorf("%s section: re-encoded bytes do not decode: %v", s.ID, err)
	}
	if s.ID == SectionCode { // offsets move when sizes shrink; compare bodies
		v, v2 = bodies(v.([]Code)), bodies(v2.([]Code))
	}
	if !reflect.DeepEqual(v, v2) {
		return fmt.Errorf("%s section: re-encoding changed the value:\n%v\n%v", s.ID, v, v2)
	}
	st.canonicalized++
	return nil
}

func bodies(c []Code) [][]byte {
	out := make([][]byte, len(c))
	for i := range c {
		out[i] = c[i].Body
	}
	return out
}

// roundTripInstrs re-encodes every instruction of every body with
// AppendInstr and checks the bytes, or their decoding when not canonical.
func roundTripInstrs(s *Section, st *roundTripStats) error {
	code, err := DecodeCode(s.Payload)
	if err != nil {
		return nil
	}
	var r, r2 Reader
	var in, in2 Instr
	for fi, c := range code {
		decls, start, err := LocalDecls(c.Body)
		if err != nil {
			continue
		}
		if out := AppendLocalDecls(nil, decls); !bytes.Equal(out, c.Body[:start]) {
			if d2, _, err := LocalDecls(out); err != nil || !reflect.DeepEqual(d2, decls) {
				return fmt.Errorf("body %d: locals %x re-encoded as %x", fi, c.Body[:start], out)
			}
		}
		r.Reset(c.Body)
		r.Seek(start)
		for {
			if err := r.Next(&in); err != nil {
				break // EOF or a malformed instruction
			}
			st.instrs++
			out := AppendInstr(nil, &in)
			if bytes.Equal(out, c.Body[in.Pos:in.End]) {
				st.instrsExact++
				continue
			}
			r2.Reset(out)
			if err := r2.Next(&in2); err != nil || r2.Pos() != len(out) {
				return fmt.Errorf("body %d at %d: re-encoded %x does not decode: %v", fi, in.Pos, out, err)
			}
			in.Pos, in.End, in2.Pos, in2.End, in.IdxPos, in2.IdxPos = 0, 0, 0, 0, 0, 0
			if !reflect.DeepEqual(in, in2) {
				return fmt.Errorf("body %d at %d: %x re-encoded as %x", fi, in.Pos, c.Body[in.Pos:in.End], out)
			}
		}
	}
	return nil
}

func TestRoundTripSpectest(t *testing.T) {
	t.Parallel()
	var st roundTripStats
	for _, f := range spectestModules(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(b)
		if err != nil {
			st.refused++
			continue
		}
		st.modules++
		if out := m.Encode(); !bytes.Equal(out, b) {
			t.Errorf("%s: decode then encode changed the bytes (%d -> %d bytes)", filepath.Base(f), len(b), len(out))
		}
		for i := range m.Sections {
			s := &m.Sections[i]
			if err := roundTripSection(s, &st); err != nil {
				t.Errorf("%s: %v", filepath.Base(f), err)
			}
			if s.ID == SectionCode {
				if err := roundTripInstrs(s, &st); err != nil {
					t.Errorf("%s: %v", filepath.Base(f), err)
				}
			}
		}
	}
	t.Logf("modules: %d decoded, %d refused; typed sections: %d (%d byte-identical, %d canonicalized); instructions: %d (%d byte-identical)",
		st.modules, st.refused, st.sections, st.exact, st.canonicalized, st.instrs, st.instrsExact)
	if st.modules < 1000 || st.instrs < 40000 {
		t.Fatalf("too little was checked: %+v", st)
	}
	// Non-canonical encodings come only from the LEB128 tests; everything
	// else must re-encode byte for byte.
	if st.canonicalized > st.sections/50 || st.instrs-st.instrsExact > st.instrs/100 {
		t.Errorf("too many non-identical re-encodings: %+v", st)
	}
}

func TestPutKeepsOrder(t *testing.T) {
	t.Parallel()
	m := &Module{}
	m.Put(SectionCode, []byte{0})
	m.Sections = append(m.Sections, Section{ID: SectionCustom, Name: "name"},
		Section{ID: SectionCustom, Name: ".debug_info"})
	m.Put(SectionType, []byte{0})
	m.Put(SectionDataCount, []byte{0})
	m.Put(SectionData, []byte{0})
	m.Put(SectionImport, []byte{0})
	var got []SectionID
	for _, s := range m.Sections {
		got = append(got, s.ID)
	}
	want := []SectionID{SectionType, SectionImport, SectionDataCount, SectionCode, SectionData, SectionCustom, SectionCustom}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if _, err := Decode(m.Encode()); err != nil {
		t.Fatalf("re-decode: %v", err)
	}
}

func TestLEB(t *testing.T) {
	t.Parallel()
	for _, v := range []uint32{0, 1, 127, 128, 16383, 16384, 1<<32 - 1} {
		for w := 0; w <= 5; w++ {
			b := AppendU32Width(nil, v, w)
			got, n, err := ReadU32(b, 0)
			if err != nil || got != v || n != len(b) || len(b) != max(w, U32Len(v)) {
				t.Errorf("u32 %d width %d: %x -> %d, %d, %v", v, w, b, got, n, err)
			}
		}
	}
	for _, v := range []int64{0, -1, 63, 64, -64, -65, 1 << 40, -1 << 63, 1<<63 - 1} {
		b := AppendS64(nil, v)
		got, n, err := ReadS64(b, 0)
		if err != nil || got != v || n != len(b) {
			t.Errorf("s64 %d: %x -> %d, %d, %v", v, b, got, n, err)
		}
	}
	bad := []struct {
		b    []byte
		read func([]byte) error
		want error
	}{
		{[]byte{0x80}, u32err, ErrUnexpectedEnd},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, u32err, ErrIntTooLong},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x1f}, u32err, ErrIntTooLarge},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x4f}, s32err, ErrIntTooLarge}, // sign bit clear, upper bits set
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x70}, s32err, ErrIntTooLarge},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02}, s64err, ErrIntTooLarge},
	}
	for _, c := range bad {
		if err := c.read(c.b); !errors.Is(err, c.want) {
			t.Errorf("%x: got %v, want %v", c.b, err, c.want)
		}
	}
	for _, ok := range [][]byte{{0xff, 0xff, 0xff, 0xff, 0x7f}, {0x80, 0x80, 0x80, 0x80, 0x78}} {
		if err := s32err(ok); err != nil {
			t.Errorf("%x: %v", ok, err)
		}
	}
}

func u32err(b []byte) error { _, _, err := ReadU32(b, 0); return err }
func s32err(b []byte) error { _, _, err := ReadS32(b, 0); return err }
func s64err(b []byte) error { _, _, err := ReadS64(b, 0); return err }

// walkAll decodes every section the package can type and every instruction
// of every body. It is what the fuzz target and the malformed tests drive.
func walkAll(b []byte) error {
	m, err := Decode(b)
	if err != nil {
		return err
	}
	for i := range m.Sections {
		s := &m.Sections[i]
		if c, ok := codecs[s.ID]; ok {
			if _, err := c.decode(s.Payload); err != nil {
				return err
			}
		}
		if s.ID == SectionCustom && s.Name == "name" {
			subs, err := DecodeNameSubsections(s.Payload)
			if err != nil {
				return err
			}
			for _, sub := range subs {
				if sub.ID == NameFunction {
					_, err = DecodeNameMap(sub.Payload)
				} else if sub.ID == NameLocal {
					_, err = DecodeIndirectNameMap(sub.Payload)
				}
				if err != nil {
					return err
				}
			}
		}
		if s.ID == SectionCode {
			code, _ := DecodeCode(s.Payload)
			for fi, c := range code {
				if err := walkBody(c.Body); err != nil {
					return fmt.Errorf("function body %d: %w", fi, err)
				}
			}
		}
	}
	return nil
}

func walkBody(body []byte) error {
	_, start, err := Locals(body)
	if err != nil {
		return err
	}
	var r Reader
	var in Instr
	r.Reset(body)
	r.Seek(start)
	for {
		err := r.Next(&in)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if in.End <= in.Pos || in.End > len(body) {
			panic(fmt.Sprintf("instruction [%d,%d) outside body of %d bytes", in.Pos, in.End, len(body)))
		}
	}
}

func TestExprI32Const(t *testing.T) {
	for _, c := range []struct {
		e    Expr
		want uint32
		ok   bool
	}{
		{Expr{byte(OpI32Const), 5, byte(OpEnd)}, 5, true},
		{Expr{byte(OpI32Const), 0x7f, byte(OpEnd)}, 0xffff_ffff, true}, // -1
		{Expr{byte(OpI32Const), 0x80, 0x01, byte(OpEnd)}, 128, true},
		{Expr{byte(OpI32Const), 5, byte(OpNop), byte(OpEnd)}, 0, false},
		{Expr{byte(OpGlobalGet), 0, byte(OpEnd)}, 0, false},
		{Expr{byte(OpI32Const), 0x80, byte(OpEnd)}, 0, false}, // the LEB128 runs into end
	} {
		if v, ok := c.e.I32Const(); v != c.want || ok != c.ok {
			t.Errorf("% x: %d, %v; want %d, %v", []byte(c.e), v, ok, c.want, c.ok)
		}
	}
}
