package fuel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/wasm"
)

// watSource compiles WAT text with wat2wasm.
func watSource(t testing.TB, src string, flags ...string) []byte {
	t.Helper()
	tool, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatalf("wat2wasm (Debian package wabt) is needed: %v", err)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-o", out, in}, flags...)
	if b, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Sizes of the bulk test module: every region spans several chunks.
const (
	bulkPages    = 4 // 256 KiB of memory: four memory chunks
	bulkDataLen  = 2*MemoryChunk + 1000
	bulkTableLen = 5*TableChunk + 10
	bulkElemLen  = 2*TableChunk + 7
)

// bulkModule is a module whose exports run every bulk operation on their
// arguments, with a passive data and element segment longer than a chunk.
func bulkModule(t testing.TB) []byte {
	var data strings.Builder
	for i := range bulkDataLen {
		fmt.Fprintf(&data, "\\%02x", byte(i*13+5))
	}
	var elem strings.Builder
	for i := range bulkElemLen {
		fmt.Fprintf(&elem, " $f%d", i%3)
	}
	src := fmt.Sprintf(`(module
  (type $r (func (result i32)))
  (memory (export "memory") %d)
  (table $t %d funcref)
  (data $d "%s")
  (elem $e func%s)
  (elem declare func $f1)
  (func $f0 (type $r) (i32.const 100))
  (func $f1 (type $r) (i32.const 101))
  (func $f2 (type $r) (i32.const 102))
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init") (param i32 i32 i32) (memory.init $d (local.get 0) (local.get 1) (local.get 2)))
  (func (export "data_drop") (data.drop $d))
  (func (export "mem_grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "tfill") (param i32 i32) (table.fill $t (local.get 0) (ref.func $f1) (local.get 1)))
  (func (export "tfill_null") (param i32 i32) (table.fill $t (local.get 0) (ref.null func) (local.get 1)))
  (func (export "tcopy") (param i32 i32 i32) (table.copy $t $t (local.get 0) (local.get 1) (local.get 2)))
  (func (export "tinit") (param i32 i32 i32) (table.init $t $e (local.get 0) (local.get 1) (local.get 2)))
  (func (export "elem_drop") (elem.drop $e))
  (func (export "tgrow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0)))
  ;; tdump hashes the table: every entry's function result, -1 for null.
  (func (export "tdump") (result i64)
    (local $i i32) (local $h i64)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (table.size $t)))
        (local.set $h (i64.add (i64.mul (local.get $h) (i64.const 1000003))
          (i64.extend_i32_s
            (if (result i32) (ref.is_null (table.get $t (local.get $i)))
              (then (i32.const -1))
              (else (call_indirect $t (type $r) (local.get $i)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (i64.add (local.get $h) (i64.extend_i32_u (table.size $t))))
  ;; Constant lengths at most a chunk are charged statically, not split.
  (func (export "fill_const") (param i32) (memory.fill (local.get 0) (i32.const 7) (i32.const 4096)))
)`, bulkPages, bulkTableLen, data.String(), elem.String())
	return watSource(t, src)
}

// bulkPair runs the original and the instrumented module side by side.
type bulkPair struct {
	t          *testing.T
	ctx        context.Context
	orig, inst api.Module
	m          *meter
	cases      int
}

func newBulkPair(t *testing.T) *bulkPair {
	ctx := context.Background()
	b := bulkModule(t)
	plain := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2))
	t.Cleanup(func() { plain.Close(ctx) })
	orig, err := plain.Instantiate(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	m := &meter{slice: 1 << 40}
	inst, err := newRuntime(t, ctx, m).Instantiate(ctx, instrument(t, b))
	if err != nil {
		t.Fatal(err)
	}
	p := &bulkPair{t: t, ctx: ctx, orig: orig, inst: inst, m: m}
	p.pattern()
	return p
}

// pattern writes the same bytes over both memories.
func (p *bulkPair) pattern() {
	for _, mod := range []api.Module{p.orig, p.inst} {
		mem := mod.ExportedMemory("memory")
		buf := make([]byte, mem.Size())
		for i := range buf {
			buf[i] = byte(i*7 + 3)
		}
		mem.Write(0, buf)
	}
}

// do calls fn on both and fails if the results, the traps, the memories
// or the tables differ.
func (p *bulkPair) do(fn string, args ...uint64) string {
	p.t.Helper()
	p.cases++
	var out [2]string
	var mems [2][]byte
	for i, mod := range []api.Module{p.orig, p.inst} {
		res, err := mod.ExportedFunction(fn).Call(p.ctx, args...)
		if err != nil {
			out[i] = "trap: " + firstLine(err)
		} else {
			out[i] = fmt.Sprint(res)
		}
		dump, err := mod.ExportedFunction("tdump").Call(p.ctx)
		if err != nil {
			p.t.Fatalf("tdump: %v", err)
		}
		out[i] += fmt.Sprintf(" table %x", dump[0])
		mem := mod.ExportedMemory("memory")
		mems[i], _ = mem.Read(0, mem.Size())
	}
	if out[0] != out[1] {
		p.t.Errorf("%s%v: original %s, instrumented %s", fn, args, out[0], out[1])
	}
	if !bytes.Equal(mems[0], mems[1]) {
		p.t.Errorf("%s%v: memories differ (%d and %d bytes, first difference at %d)",
			fn, args, len(mems[0]), len(mems[1]), firstDiff(mems[0], mems[1]))
	}
	return out[0]
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// lengths around the chunk boundaries.
func lengths(chunk uint64) []uint64 {
	return []uint64{0, 1, chunk - 1, chunk, chunk + 1, 2*chunk - 1, 2 * chunk, 2*chunk + 1, 3*chunk + 17}
}

// starts returns destinations that put a range of n at the start, in the
// middle, exactly at the end and one past the end of a region of size.
func starts(n, size uint64) []uint64 {
	out := []uint64{0, 3}
	if n <= size {
		out = append(out, size-n, (size-n)/2)
	}
	out = append(out, size-n+1, size, size+1, 1<<32-1, 1<<32-n)
	return out
}

const u32 = 1<<32 - 1

func TestBulkMemoryDifferential(t *testing.T) {
	p := newBulkPair(t)
	size := uint64(bulkPages * 65536)
	for _, n := range append(lengths(MemoryChunk), u32, size, size+1) {
		for _, d := range starts(n, size) {
			d &= u32
			p.do("fill", d, 0xab, n)
			for _, s := range []uint64{0, d, (d + 1) & u32, (d - 1) & u32, (d + MemoryChunk + 1) & u32, (d - MemoryChunk + 1) & u32, size - n} {
				p.do("copy", d, s&u32, n)
				p.pattern()
			}
			for _, s := range []uint64{0, 1, bulkDataLen - n, bulkDataLen - n + 1, bulkDataLen} {
				p.do("init", d, s&u32, n)
				p.pattern()
			}
		}
	}
	// A dropped segment is empty: only zero lengths at offset 0 succeed.
	p.do("data_drop")
	for _, c := range [][3]uint64{{0, 0, 0}, {size, 0, 0}, {0, 1, 0}, {0, 0, 1}, {0, 0, 3 * MemoryChunk}} {
		p.do("init", c[0], c[1], c[2])
	}
	// Zero lengths at the end of a grown memory, and one past it.
	p.do("mem_grow", 1)
	size += 65536
	for _, d := range []uint64{size, size + 1, size - 2*MemoryChunk - 5} {
		p.do("fill", d, 1, 0)
		p.do("copy", d, 0, 0)
		p.do("copy", 0, d, 0)
		p.do("fill", d, 1, 2*MemoryChunk+5)
		p.do("copy", d, 7, 2*MemoryChunk+5)
		p.do("copy", 7, d, 2*MemoryChunk+5)
	}
	t.Logf("%d cases", p.cases)
}

func TestBulkTableDifferential(t *testing.T) {
	p := newBulkPair(t)
	size := uint64(bulkTableLen)
	p.do("tinit", 0, 0, bulkElemLen) // a varied table to copy
	for _, n := range append(lengths(TableChunk), u32, size, size+1) {
		for _, d := range starts(n, size) {
			d &= u32
			p.do("tfill", d, n)
			p.do("tfill_null", d, n)
			for _, s := range []uint64{0, d, (d + 1) & u32, (d - 1) & u32, (d + TableChunk + 1) & u32, (d - TableChunk + 1) & u32, size - n} {
				p.do("tcopy", d, s&u32, n)
			}
			for _, s := range []uint64{0, 1, bulkElemLen - n, bulkElemLen - n + 1, bulkElemLen} {
				p.do("tinit", d, s&u32, n)
			}
		}
	}
	p.do("elem_drop")
	for _, c := range [][3]uint64{{0, 0, 0}, {size, 0, 0}, {0, 1, 0}, {0, 0, 1}, {0, 0, 3 * TableChunk}} {
		p.do("tinit", c[0], c[1], c[2])
	}
	t.Logf("%d cases", p.cases)
}

// TestBulkChargesAndYields checks what a bulk operation costs: 1 unit per
// MemoryBytesPerFuel bytes, at least MemoryChargeFloor of them, and one
// yield per chunk of a long operation.
func TestBulkChargesAndYields(t *testing.T) {
	b := instrument(t, bulkModule(t))
	base := fuelOf(t, b, "fill", 0, 1, 0) // charged as MemoryChargeFloor bytes
	for _, n := range []uint64{1, 15, 16, MemoryChargeFloor, MemoryChargeFloor + 16, MemoryChunk, MemoryChunk + 1, 3*MemoryChunk + 17} {
		used, yields := fuelAndYields(t, b, "fill", 0, 1, n)
		if want := base + (max(int64(n), MemoryChargeFloor)-MemoryChargeFloor)/MemoryBytesPerFuel; used != want {
			t.Errorf("fill of %d bytes used %d fuel, want %d", n, used, want)
		}
		chunks := int64(0)
		if n > MemoryChunk {
			chunks = (int64(n) + MemoryChunk - 1) / MemoryChunk
		}
		if yields != chunks {
			t.Errorf("fill of %d bytes yielded %d times, want %d", n, yields, chunks)
		}
	}
	tbase := fuelOf(t, b, "tfill", 0, 0)
	for _, n := range []uint64{1, TableChargeFloor + 1, TableChunk, 2*TableChunk + 3} {
		want := tbase + (max(int64(n), TableChargeFloor)-TableChargeFloor)/TableEntriesPerFuel
		if used := fuelOf(t, b, "tfill", 0, n); used != want {
			t.Errorf("table.fill of %d entries used %d fuel, want %d", n, used, want)
		}
	}
	// A constant length is charged statically, in the caller, and the
	// instruction stays: the same fuel as through the helper.
	if c, v := fuelOf(t, b, "fill_const", 0), fuelOf(t, b, "fill", 0, 7, 4096); c != v {
		t.Errorf("fill_const used %d fuel, fill of the same length %d", c, v)
	}
	bodies, err := wasm.DecodeCode(codePayload(t, b))
	if err != nil {
		t.Fatal(err)
	}
	constBody := bodies[len(bodies)-len(mustInstrumentHelpers(t, bulkModule(t)))-1].Body
	if !bytes.Contains(constBody, []byte{wasm.PrefixMisc, miscMemoryFill, 0}) {
		t.Errorf("fill_const no longer holds its memory.fill: % x", constBody)
	}
}

// mustInstrumentHelpers returns the helpers the rewrite of b adds.
func mustInstrumentHelpers(t *testing.T, b []byte) []helper {
	mod, err := decodeModule(b)
	if err != nil {
		t.Fatal(err)
	}
	mod.plan()
	if _, _, err := mod.rewriteCode(); err != nil {
		t.Fatal(err)
	}
	return mod.inj.helpers
}

func fuelOf(t *testing.T, b []byte, fn string, args ...uint64) int64 {
	used, _ := fuelAndYields(t, b, fn, args...)
	return used
}

// fuelAndYields calls fn in a fresh instance whose counter starts full,
// and returns the fuel it used and how many times it yielded.
func fuelAndYields(t *testing.T, b []byte, fn string, args ...uint64) (int64, int64) {
	t.Helper()
	ctx := context.Background()
	m := &meter{slice: 1 << 40}
	mod, err := newRuntime(t, ctx, m).Instantiate(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	counter(mod).Set(uint64(m.slice))
	m.refills.Store(m.slice)
	if _, err := mod.ExportedFunction(fn).Call(ctx, args...); err != nil {
		t.Fatalf("%s%v: %v", fn, args, err)
	}
	return m.used(mod), m.yields.Load()
}

// TestBulkKillBetweenChunks checks that a host that kills the guest in
// yield stops a long fill between two chunks: the chunks before are
// written, none after.
func TestBulkKillBetweenChunks(t *testing.T) {
	b := instrument(t, bulkModule(t))
	ctx := context.Background()
	m := &meter{slice: 1 << 40, limit: 2}
	mod, err := newRuntime(t, ctx, m).Instantiate(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	n := uint64(bulkPages * 65536)
	_, err = mod.ExportedFunction("fill").Call(ctx, 0, 0xee, n)
	if !errors.Is(err, errOutOfFuel) {
		t.Fatalf("fill returned %v, want the host's kill", err)
	}
	mem, _ := mod.ExportedMemory("memory").Read(0, uint32(n))
	written := 0
	for written < len(mem) && mem[written] == 0xee {
		written++
	}
	if written != 2*MemoryChunk {
		t.Fatalf("the killed fill wrote %d bytes, want the 2 chunks before the third yield", written)
	}
}

// TestTableGrowAsksHost checks that every table.grow asks the host first:
// a refusal fails the grow as a grow past the maximum does, leaving the
// table as it was, and an allowed grow is charged by its length.
func TestTableGrowAsksHost(t *testing.T) {
	ctx := context.Background()
	tg := &hostTableGrow{}
	tg.allowed.Store(100)
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2))
	defer r.Close(ctx)
	m := &meter{slice: 1 << 40}
	if _, err := withHosts(r.NewHostModuleBuilder(ImportModule).NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(m.yield), nil, nil).Export(ImportName),
		&hostStack{}, tg).Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	mod, err := r.Instantiate(ctx, instrument(t, bulkModule(t)))
	if err != nil {
		t.Fatal(err)
	}
	counter(mod).Set(1 << 40)
	size := int64(bulkTableLen)
	for _, c := range []struct{ n, want int64 }{{50, size}, {60, -1}, {50, size + 50}, {0, size + 100}, {1, -1}} {
		before := int64(counter(mod).Get())
		res, err := mod.ExportedFunction("tgrow").Call(ctx, uint64(c.n))
		if err != nil {
			t.Fatal(err)
		}
		if got := int64(int32(res[0])); got != c.want {
			t.Errorf("tgrow(%d) = %d, want %d", c.n, got, c.want)
		}
		charged := before - int64(counter(mod).Get())
		want := int64(4) // tgrow's ref.null, local.get, table.grow and end
		if c.want >= 0 {
			want += c.n / TableEntriesPerFuel
		}
		if charged != want {
			t.Errorf("tgrow(%d) charged %d fuel, want %d", c.n, charged, want)
		}
	}
	if tg.calls.Load() != 5 || tg.asked.Load() != 161 {
		t.Errorf("host asked %d times for %d entries, want 5 times for 161", tg.calls.Load(), tg.asked.Load())
	}
}

// TestCodeCountWidens rewrites a module of 127 functions, whose helpers
// make more than 128: the code section's count needs a second byte, and
// every byte after it moves. The offset map must follow.
func TestCodeCountWidens(t *testing.T) {
	var src strings.Builder
	src.WriteString("(module (memory (export \"memory\") 1)\n")
	for i := range 126 {
		fmt.Fprintf(&src, "(func (export \"f%d\") (result i32) (i32.const %d))\n", i, i)
	}
	src.WriteString(`(func (export "fill") (param i32) (memory.fill (i32.const 0) (i32.const 9) (local.get 0))))`)
	orig := watSource(t, src.String())
	res, err := Instrument(orig)
	if err != nil {
		t.Fatal(err)
	}
	oldCode, newCode := codePayload(t, orig), codePayload(t, res.Wasm)
	if oldCode[0] != 127 || newCode[0]&0x80 == 0 || newCode[1] != 1 {
		t.Fatalf("code section counts % x before, % x after", oldCode[:2], newCode[:2])
	}
	checkMapsBack(t, orig, res)
	ctx := context.Background()
	mod, err := newRuntime(t, ctx, &meter{slice: 1 << 40}).Instantiate(ctx, res.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mod.ExportedFunction("fill").Call(ctx, 65536); err != nil {
		t.Fatal(err)
	}
	if got, _ := mod.ExportedMemory("memory").ReadByte(65535); got != 9 {
		t.Errorf("fill left %d at the end of memory", got)
	}
}
