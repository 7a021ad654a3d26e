package fuel

import (
	"debug/dwarf"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/isle-run/isle/internal/wasm"
)

// lineLookup answers "which file:line is at this code offset" the way
// wazero's wasmdebug does: the first unit whose ranges hold the offset,
// then the last row of that unit at or before it.
type lineLookup struct {
	units []lookupUnit
}

type lookupUnit struct {
	ranges [][2]uint64
	rows   []dwarf.LineEntry
}

func newLineLookup(t *testing.T, b []byte) *lineLookup {
	t.Helper()
	m, err := wasm.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	secs := map[string][]byte{}
	for _, s := range m.Sections {
		if s.ID == wasm.SectionCustom {
			secs[s.Name] = s.Payload
		}
	}
	d, err := dwarf.New(secs[".debug_abbrev"], nil, nil, secs[".debug_info"], secs[".debug_line"],
		nil, secs[".debug_ranges"], secs[".debug_str"])
	if err != nil {
		t.Fatalf("DWARF: %v", err)
	}
	l := &lineLookup{}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag != dwarf.TagCompileUnit {
			r.SkipChildren()
			continue
		}
		var u lookupUnit
		u.ranges, _ = d.Ranges(e)
		if lr, err := d.LineReader(e); err == nil && lr != nil {
			var le dwarf.LineEntry
			for lr.Next(&le) == nil {
				u.rows = append(u.rows, le)
			}
			if err := lr.Next(&le); !errors.Is(err, io.EOF) {
				t.Fatalf("line table: %v", err)
			}
		}
		sort.SliceStable(u.rows, func(i, j int) bool { return u.rows[i].Address < u.rows[j].Address })
		l.units = append(l.units, u)
		r.SkipChildren()
	}
	return l
}

func (l *lineLookup) at(addr uint64) string {
	for _, u := range l.units {
		for _, r := range u.ranges {
			if deadAddr(r[0], 1<<32-3) || addr < r[0] || addr >= r[1] {
				continue
			}
			i := sort.Search(len(u.rows), func(i int) bool { return u.rows[i].Address >= addr })
			if i == len(u.rows) {
				return ""
			}
			if u.rows[i].Address != addr {
				if i == 0 {
					return ""
				}
				i--
			}
			e := u.rows[i]
			return fmt.Sprintf("%s:%d:%d", e.File.Name, e.Line, e.Column)
		}
	}
	return ""
}

// TestDWARFEveryInstruction checks, for every instruction of a C program,
// that the offset map round-trips it and that the rebuilt DWARF gives it
// the same file:line:column as the original DWARF.
func TestDWARFEveryInstruction(t *testing.T) {
	t.Parallel()
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			orig := buildC(t, "trap", opt, "-g")
			res, err := Instrument(orig)
			if err != nil {
				t.Fatal(err)
			}
			before, after := newLineLookup(t, orig), newLineLookup(t, res.Wasm)
			oldCode := codePayload(t, orig)
			n := checkMapsBack(t, orig, res)
			named := 0
			eachCodeInstr(t, oldCode, func(body int, a uint64, _ *wasm.Instr) {
				b := res.Offsets.rewritten(a)
				if x, y := before.at(a), after.at(b); x != y {
					t.Errorf("body %d: %#x is %q before, %#x is %q after", body, a, x, b, y)
				} else if x != "" {
					named++
				}
			})
			t.Logf("%d instructions, %d with a source line", n, named)
			if named < 100 {
				t.Fatalf("only %d instructions had a source line", named)
			}
		})
	}
}

func codePayload(t *testing.T, b []byte) []byte {
	m, err := wasm.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return m.Section(wasm.SectionCode).Payload
}

// TestOffsetMapInjected checks that exactly the injected bytes have no
// origin: the bytes that do map back are the same bytes.
func TestOffsetMapInjected(t *testing.T) {
	t.Parallel()
	orig := wat(t, "metering")
	res, err := Instrument(orig)
	if err != nil {
		t.Fatal(err)
	}
	oldCode, newCode := codePayload(t, orig), codePayload(t, res.Wasm)
	mapped := 0
	for i := range newCode {
		if o, ok := res.Offsets.Original(uint64(i)); ok {
			mapped++
			// Function indices, branch depths and body sizes are
			// renumbered in place. Function indices move up by
			// injectedImports, and a branch out of a loop whose yield is
			// hoisted by hoistDepth: both are 3, and metering.wat's
			// branches leave one loop at most.
			if newCode[i] != oldCode[o] && !(newCode[i] == oldCode[o]+injectedImports) && i > 0 {
				if _, isSize := sizeField(oldCode, int(o)); !isSize {
					t.Errorf("new byte %#x at %d maps to old byte %#x at %d", newCode[i], i, oldCode[o], o)
				}
			}
		}
	}
	if injected := len(newCode) - mapped; injected != len(newCode)-len(oldCode) {
		t.Errorf("%d bytes have no origin, but the code grew by %d", injected, len(newCode)-len(oldCode))
	}
	if _, ok := res.Offsets.Original(uint64(len(newCode))); ok {
		t.Error("an offset past the end maps back")
	}
}

// sizeField reports whether offset o of a code payload is within a body's
// size field.
func sizeField(code []byte, o int) (int, bool) {
	bodies, _ := wasm.DecodeCode(code)
	prev := wasm.U32Len(uint32(len(bodies)))
	for i, c := range bodies {
		if o >= prev && o < c.Offset {
			return i, true
		}
		prev = c.Offset + len(c.Body)
	}
	return 0, false
}

// TestOffsetMapAcrossHoistedLoops checks that every instruction of the
// original maps forward to the same opcode and back to itself, where
// branches leave two hoisted loops at once, a br_table's labels widen
// past one byte, and bulk operations stand inside hoisted loops
// (TestOffsetMapInjected's byte check only allows a move of 3).
func TestOffsetMapAcrossHoistedLoops(t *testing.T) {
	t.Parallel()
	src := `(module (memory 1) (func $g (param i32) (result i32) local.get 0 i32.const 1 i32.add)
(func (export "f") (param $n i32) (result i32) (local $i i32)
 ` + strings.Repeat("block\n", 126) + `
  loop $a
   loop $b
     local.get $i i32.const 1 i32.add local.tee $i
     local.get $n i32.ge_u br_if 2
     local.get $i i32.const 3 i32.rem_u
     br_table 0 1 126 127 0
   end
   local.get $i call $g drop
   br 1
  end
 ` + strings.Repeat("end\n", 126) + ` local.get $i call $g)
 (func (param i32) (result i32) (loop (loop (loop (br_if 3 (i32.const 5) (local.get 0)) (br_if 1 (local.get 0)) (br 2)))) (i32.const 1) (call $g))
 (func (param i32) (local i32) (memory.fill (local.get 0) (i32.const 0) (local.get 0)) (loop (loop (memory.fill (local.get 0) (i32.const 0) (local.get 0)) (br_if 1 (local.get 0)) (br_if 0 (local.get 0)))) (loop) (loop (br_if 0 (local.get 0))))
)`
	b := watSource(t, src)
	res, err := Instrument(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("checked %d instructions", checkMapsBack(t, b, res))
}
