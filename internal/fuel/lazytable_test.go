package fuel

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/shape"
	"github.com/isle-run/isle/internal/wasm"
)

// lazySlotsUsed is how many slots lazyModule's segments fill (with a
// null and a function of another type among them).
const lazySlotsUsed = 300

// lazyModule is a module with a table of 400 slots that two overlapping
// segments fill from slot 10: the second, in the expression encoding,
// overwrites slots 200-202 with a null, a function and a null. One slot
// in seven holds a function of another type. extra is spliced in.
func lazyModule(t testing.TB, extra string) []byte {
	return lazyModuleOf(t, lazySlotsUsed, 400, extra)
}

// lazyModuleOf is lazyModule with n slots from 10 on, in a table of size.
func lazyModuleOf(t testing.TB, n, size int, extra string) []byte {
	var funcs strings.Builder
	for i := range n {
		if i%7 == 3 {
			funcs.WriteString(" $g")
		} else {
			fmt.Fprintf(&funcs, " $f%d", i%3)
		}
	}
	return watSource(t, fmt.Sprintf(`(module
  (type $r (func (result i32)))
  (type $q (func (param i32) (result i32)))
  (table $t %d funcref)
  (elem (i32.const 10) func%s)
  (elem (i32.const 200) funcref (ref.null func) (ref.func $f2) (ref.null func))
  (func $f0 (type $r) (i32.const 100))
  (func $f1 (type $r) (i32.const 101))
  (func $f2 (type $r) (i32.const 102))
  (func $g (type $q) (i32.add (local.get 0) (i32.const 1000)))
  (func (export "call") (param i32) (result i32) (call_indirect $t (type $r) (local.get 0)))
  (func (export "callq") (param i32) (result i32) (call_indirect $t (type $q) (i32.const 7) (local.get 0)))
  %s)`, size, funcs.String(), extra))
}

// lazyTablesOf returns the lazy tables that Instrument made of b.
func lazyTablesOf(t *testing.T, b []byte) []LazyTable {
	t.Helper()
	m, err := wasm.Decode(instrument(t, b))
	if err != nil {
		t.Fatal(err)
	}
	lazy, err := LazyTables(m)
	if err != nil {
		t.Fatal(err)
	}
	return lazy
}

// TestLazyTableDifferential calls every slot of a lazy table, and slots
// outside it, through both signatures, twice (filled, then already
// filled), and compares each result or trap with the original's: a table
// one helper fills, and one of several chunks, one of them all null.
func TestLazyTableDifferential(t *testing.T) {
	var nulls strings.Builder
	for range lazyChunk {
		nulls.WriteString(" (ref.null func)")
	}
	big := 3*lazyChunk + 100
	for name, c := range map[string]struct {
		b       []byte
		n, size int
	}{
		"one helper": {lazyModule(t, ""), lazySlotsUsed, 400},
		"chunks": {lazyModuleOf(t, big, big+20,
			fmt.Sprintf("(elem (i32.const %d) funcref%s)", 10+lazyChunk, nulls.String())), big, big + 20},
	} {
		t.Run(name, func(t *testing.T) {
			lazy := lazyTablesOf(t, c.b)
			if len(lazy) != 1 || lazy[0].Lo != 10 || len(lazy[0].Funcs) != c.n {
				t.Fatalf("lazy tables %+v, want table 0 with slots 10-%d", lazy, 10+c.n-1)
			}
			diffLazy(t, c.b, uint64(c.size+20))
		})
	}
}

// diffLazy runs the calls of TestLazyTableDifferential on slots 0 to n-1
// and a few beyond.
func diffLazy(t *testing.T, b []byte, n uint64) {
	ctx := context.Background()
	plain := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2))
	t.Cleanup(func() { plain.Close(ctx) })
	orig, err := plain.Instantiate(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := newRuntime(t, ctx, &meter{slice: 1 << 40}).Instantiate(ctx, instrument(t, b))
	if err != nil {
		t.Fatal(err)
	}
	traps := map[string]int{}
	for pass := range 2 {
		for _, fn := range []string{"call", "callq"} {
			for _, i := range append(indices(n), 1<<31, 1<<32-1) {
				var out [2]string
				for k, mod := range []api.Module{orig, inst} {
					res, err := mod.ExportedFunction(fn).Call(ctx, i)
					if err != nil {
						out[k] = "trap: " + firstLine(err)
					} else {
						out[k] = fmt.Sprint(res)
					}
				}
				if out[0] != out[1] {
					t.Errorf("pass %d: %s(%d): original %s, rewritten %s", pass, fn, i, out[0], out[1])
				}
				if strings.HasPrefix(out[0], "trap") {
					traps[out[0]]++
				}
			}
		}
	}
	// Both kinds of trap were reached: wazero reports a slot out of
	// bounds and a null slot alike, and a function of the wrong type.
	if len(traps) < 2 {
		t.Errorf("traps reached: %v, want at least two kinds", traps)
	}
}

func indices(n uint64) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i)
	}
	return out
}

// TestLazyTableInstantiatesWithoutElements checks what the lazy table is
// for: instantiation no longer makes a reference per slot.
func TestLazyTableInstantiatesWithoutElements(t *testing.T) {
	ctx := context.Background()
	b := lazyModule(t, "")
	lazy := instrument(t, b)
	LazyTableMin = 1 << 30
	eager := instrument(t, b)
	LazyTableMin = 1
	r := newRuntime(t, ctx, &meter{slice: 1 << 40})
	allocs := func(bin []byte) float64 {
		c, err := r.CompileModule(ctx, bin)
		if err != nil {
			t.Fatal(err)
		}
		cfg := wazero.NewModuleConfig().WithName("")
		return testing.AllocsPerRun(20, func() {
			m, err := r.InstantiateModule(ctx, c, cfg)
			if err != nil {
				t.Fatal(err)
			}
			_ = m.Close(ctx)
		})
	}
	l, e := allocs(lazy), allocs(eager)
	t.Logf("allocations per instantiation: %.0f lazy, %.0f eager", l, e)
	if l > e-lazySlotsUsed/2 {
		t.Errorf("lazy instantiation made %.0f allocations, eager %.0f: want fewer by about one a slot", l, e)
	}
}

// TestLazyTableEligibility keeps a table eager wherever the guest could
// tell, or the segments are not plain.
func TestLazyTableEligibility(t *testing.T) {
	cases := map[string]string{
		"table.size":    `(func (export "size") (result i32) (table.size $t))`,
		"table.get":     `(func (export "get") (param i32) (result funcref) (table.get $t (local.get 0)))`,
		"exported":      `(export "t" (table $t))`,
		"elem.drop":     `(elem $p func $f0) (func (export "drop") (elem.drop $p))`,
		"table.grow":    `(func (export "grow") (result i32) (table.grow $t (ref.null func) (i32.const 1)))`,
		"out of bounds": `(elem (i32.const 399) func $f0 $f1)`,
	}
	for name, extra := range cases {
		t.Run(name, func(t *testing.T) {
			if lazy := lazyTablesOf(t, lazyModule(t, extra)); len(lazy) != 0 {
				t.Errorf("table made lazy: %+v", lazy)
			}
		})
	}
	t.Run("past the modules' total", func(t *testing.T) {
		// Two tables of the largest size, each eligible: only the first
		// is made lazy.
		n := lazyMaxSlots - 8
		var funcs strings.Builder
		for range n {
			funcs.WriteString(" $f")
		}
		b := watSource(t, fmt.Sprintf(`(module
  (type $r (func (result i32)))
  (table $a %[1]d funcref)
  (table $b %[1]d funcref)
  (elem (table $a) (i32.const 0) func%[2]s)
  (elem (table $b) (i32.const 0) func%[2]s)
  (func $f (type $r) (i32.const 1))
  (func (export "a") (param i32) (result i32) (call_indirect $a (type $r) (local.get 0)))
  (func (export "b") (param i32) (result i32) (call_indirect $b (type $r) (local.get 0))))`, n, funcs.String()))
		var tables []uint32
		for _, lt := range lazyTablesOf(t, b) {
			tables = append(tables, lt.Table)
		}
		if len(tables) != 1 || tables[0] != 0 {
			t.Errorf("lazy tables %v, want table 0 only", tables)
		}
	})
	for name, src := range map[string]string{
		"imported": `(module
  (type $r (func (result i32)))
  (import "env" "t" (table $t 10 funcref))
  (elem (i32.const 0) func $f $f $f)
  (func $f (type $r) (i32.const 1))
  (func (export "call") (param i32) (result i32) (call_indirect $t (type $r) (local.get 0))))`,
		"offset from a global": `(module
  (type $r (func (result i32)))
  (import "env" "base" (global $b i32))
  (table $t 10 funcref)
  (elem (global.get $b) func $f $f $f)
  (func $f (type $r) (i32.const 1))
  (func (export "call") (param i32) (result i32) (call_indirect $t (type $r) (local.get 0))))`,
	} {
		t.Run(name, func(t *testing.T) {
			if lazy := lazyTablesOf(t, watSource(t, src)); len(lazy) != 0 {
				t.Errorf("table made lazy: %+v", lazy)
			}
		})
	}
}

// TestLazyTableMin keeps tables with fewer slots than LazyTableMin eager.
func TestLazyTableMin(t *testing.T) {
	b := lazyModule(t, "")
	defer func() { LazyTableMin = 1 }()
	// The expression segment nulls two slots: lazySlotsUsed - 2 hold
	// functions.
	LazyTableMin = lazySlotsUsed - 2
	if lazy := lazyTablesOf(t, b); len(lazy) != 1 {
		t.Errorf("at LazyTableMin %d: %d lazy tables, want 1", LazyTableMin, len(lazy))
	}
	LazyTableMin = lazySlotsUsed - 1
	if lazy := lazyTablesOf(t, b); len(lazy) != 0 {
		t.Errorf("at LazyTableMin %d: %d lazy tables, want none", LazyTableMin, len(lazy))
	}
}

// TestLazyTablesSectionIsReserved refuses a guest that brings the
// section: the host would trust its list of fill functions.
func TestLazyTablesSectionIsReserved(t *testing.T) {
	m, err := wasm.Decode(lazyModule(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	m.Sections = append(m.Sections, wasm.Section{ID: wasm.SectionCustom, Name: LazyTablesSection, Payload: []byte{0}})
	if _, err := Instrument(m.Encode()); err == nil || !strings.Contains(err.Error(), LazyTablesSection) {
		t.Fatalf("Instrument: %v, want the reserved section refused", err)
	}
}

// TestLazyTableStaysWithinShape rewrites the largest table that
// internal/shape admits and checks the result against the same limits:
// the fill helpers must not give wazero a shape whose compile time grows
// faster than the table (one helper nesting a block per slot would).
func TestLazyTableStaysWithinShape(t *testing.T) {
	lim := shape.DefaultLimits()
	n := min(lim.TableMin, lim.ElemSegmentItems) - 10
	b := lazyModuleOf(t, n, n+10, "")
	if err := shape.Check(b, shape.Limits{}); err != nil {
		t.Fatalf("the original: %v", err)
	}
	if lazy := lazyTablesOf(t, b); len(lazy) != 1 {
		t.Fatalf("%d lazy tables, want 1", len(lazy))
	}
	if err := shape.Check(instrument(t, b), shape.Limits{}); err != nil {
		t.Fatalf("the rewritten module of a table of %d slots: %v", n, err)
	}
}

// TestLazyTableListsEveryWriter checks the section the host trusts: every
// function of the rewritten module that writes a table is one of its lazy
// tables' Fills, for a table filled by one helper and one of chunks.
func TestLazyTableListsEveryWriter(t *testing.T) {
	for _, n := range []int{lazySlotsUsed, 3*lazyChunk + 100} {
		m, err := wasm.Decode(instrument(t, lazyModuleOf(t, n, n+20, "")))
		if err != nil {
			t.Fatal(err)
		}
		lazy, err := LazyTables(m)
		if err != nil || len(lazy) != 1 {
			t.Fatalf("%d slots: lazy tables %d, %v", n, len(lazy), err)
		}
		listed := map[uint32]bool{}
		for _, f := range lazy[0].Fills {
			listed[f] = true
		}
		imports, err := wasm.DecodeImports(m.Section(wasm.SectionImport).Payload)
		if err != nil {
			t.Fatal(err)
		}
		code, err := wasm.DecodeCode(m.Section(wasm.SectionCode).Payload)
		if err != nil {
			t.Fatal(err)
		}
		writers := 0
		for i, c := range code {
			_, start, err := wasm.Locals(c.Body)
			if err != nil {
				t.Fatal(err)
			}
			var r wasm.Reader
			var in wasm.Instr
			r.Reset(c.Body)
			r.Seek(start)
			for r.Next(&in) == nil {
				if in.Op == opTableSet {
					writers++
					if f := uint32(len(imports) + i); !listed[f] {
						t.Errorf("%d slots: function %d writes the table but is not listed in %v", n, f, lazy[0].Fills)
					}
					break
				}
			}
		}
		if writers == 0 {
			t.Errorf("%d slots: no function writes the table", n)
		}
	}
}
