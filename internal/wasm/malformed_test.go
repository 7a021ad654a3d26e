package wasm

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mod builds a module from a header and raw sections (id, payload...).
func mod(sections ...[]byte) []byte {
	b := append(append([]byte{}, Magic...), Version...)
	for _, s := range sections {
		b = append(b, s[0])
		b = AppendU32(b, uint32(len(s)-1))
		b = append(b, s[1:]...)
	}
	return b
}

func sec(id SectionID, payload ...byte) []byte { return append([]byte{byte(id)}, payload...) }

// oneFunc is a module with one [] -> [] function whose expression is expr.
func oneFunc(expr ...byte) []byte {
	body := append([]byte{0}, expr...) // no locals
	code := append([]byte{1, byte(len(body))}, body...)
	return mod(sec(SectionType, 1, 0x60, 0, 0), sec(SectionFunction, 1, 0), sec(SectionCode, code...))
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "magic header"},
		{"bad magic", []byte("\x00asn\x01\x00\x00\x00"), "magic header"},
		{"bad version", []byte("\x00asm\x02\x00\x00\x00"), "unknown binary version"},
		{"truncated size", append(mod(), 1), "unexpected end"},
		{"size past end", append(mod(), 1, 5, 0), "exceeds the 1 bytes left"},
		{"unknown section", mod(sec(14)), "malformed section id 14"},
		{"tag section", mod(sec(13)), "tag section at offset 8: exception handling is not supported"},
		{"out of order", mod(sec(SectionFunction, 0), sec(SectionType, 0)), "out of order"},
		{"repeated", mod(sec(SectionType, 0), sec(SectionType, 0)), "out of order or repeated"},
		{"huge vector", mod(sec(SectionType, 0xff, 0xff, 0xff, 0xff, 0x0f)), "does not fit"},
		{"gc type", mod(sec(SectionType, 1, 0x5f, 0, 0)), "unsupported type form 0x5f"},
		{"bad valtype", mod(sec(SectionType, 1, 0x60, 1, 0x40, 0)), "malformed value type 0x40"},
		{"trailing", mod(sec(SectionType, 0, 0)), "unexpected bytes"},
		{"import kind", mod(sec(SectionImport, 1, 1, 'm', 1, 'f', 4, 0)), "malformed import kind 0x04"},
		{"name utf8", mod(sec(SectionImport, 1, 1, 0xff, 1, 'f', 0, 0)), "malformed UTF-8"},
		{"elem kind", mod(sec(SectionElement, 1, 8, 0)), "malformed elements segment kind 8"},
		{"atomics", oneFunc(0xfe, 0x00, 0x02, 0x00, 0x0b), "unsupported opcode 0xfe 0x00 (threads/atomics)"},
		{"exceptions", oneFunc(0x06, 0x40, 0x0b, 0x0b), "unsupported opcode 0x06 (exception handling)"},
		{"call_ref", oneFunc(0x14, 0x00, 0x0b), "unsupported opcode 0x14 (typed function references)"},
		{"gc prefix", oneFunc(0xfb, 0x00, 0x0b), "unsupported opcode 0xfb 0x00 (garbage collection)"},
		{"atomics, truncated", oneFunc(0xfe), "unsupported opcode 0xfe (threads/atomics)"},
		{"relaxed simd", oneFunc(0xfd, 0x80, 0x02, 0x0b), "unsupported opcode 0xfd 0x100 (relaxed SIMD)"},
		{"simd hole", oneFunc(0xfd, 0x9a, 0x01, 0x0b), "unsupported opcode 0xfd 0x9a"},
		{"misc 18", oneFunc(0xfc, 0x12, 0x0b), "unsupported opcode 0xfc 0x12"},
		{"truncated i64", oneFunc(0x42, 0x80), "unexpected end"},
		{"truncated v128", oneFunc(0xfd, 0x0c, 1, 2, 3), "unexpected end"},
		{"long br_table", oneFunc(0x0e, 0xff, 0xff, 0x03, 0x0b), "br_table of 65535 labels"},
		{"bad block type", oneFunc(0x02, 0x50, 0x0b, 0x0b), "block type"},
		{"multi-memory memarg", oneFunc(0x28, 0x40, 0x00, 0x00, 0x0b), "multiple memories"},
	}
	for _, c := range cases {
		err := walkAll(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	var oe *OpcodeError
	if err := walkAll(oneFunc(0xfe, 0x00, 0x02, 0x00, 0x0b)); !errors.As(err, &oe) || oe.Offset != 1 {
		t.Errorf("atomics: want an *OpcodeError at offset 1, got %#v", err)
	}
}

// TestTruncations cuts spec test modules at many points: decoding must fail
// with an error (never panic) unless the cut falls on a section boundary.
func TestTruncations(t *testing.T) {
	t.Parallel()
	var n int
	for i, f := range spectestModules(t) {
		if i%7 != 0 {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(b)
		if err != nil {
			continue
		}
		boundary := map[int]bool{8: true}
		for _, s := range m.Sections {
			boundary[s.Offset+len(s.Payload)] = true
		}
		for cut := 0; cut < len(b); cut += 1 + cut/8 {
			n++
			err := walkAll(b[:cut])
			if _, derr := Decode(b[:cut]); (derr == nil) != boundary[cut] {
				t.Errorf("%s cut at %d: Decode error %v, boundary %v", filepath.Base(f), cut, derr, boundary[cut])
			}
			if err == nil && !boundary[cut] {
				t.Errorf("%s cut at %d: no error", filepath.Base(f), cut)
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %d truncations tried", n)
	}
}

// FuzzDecode feeds arbitrary bytes to every decoder. Inputs that decode must
// encode back to the same bytes.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(spectestDir(f), "*.wasm"))
	for i, file := range files {
		if i%5 != 0 {
			continue
		}
		if b, err := os.ReadFile(file); err == nil && len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Add(oneFunc(0xfd, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x1a, 0x0b))
	f.Fuzz(func(t *testing.T, b []byte) {
		if walkAll(b) != nil {
			return
		}
		m, err := Decode(b)
		if err != nil {
			t.Fatalf("walkAll succeeded but Decode failed: %v", err)
		}
		if out := m.Encode(); !bytes.Equal(out, b) {
			t.Fatalf("round trip changed %x into %x", b, out)
		}
	})
}
