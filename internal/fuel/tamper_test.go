package fuel

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// tamperRuntime is a runtime with the fuel host module and the "env"
// module of testdata/env.wat.
func tamperRuntime(t *testing.T) (context.Context, wazero.Runtime, *meter) {
	ctx := context.Background()
	m := &meter{slice: 1 << 40}
	r := newRuntime(t, ctx, m)
	if _, err := r.InstantiateWithConfig(ctx, wat(t, "env"), wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
	return ctx, r, m
}

func counter(mod api.Module) api.MutableGlobal {
	return mod.ExportedGlobal(GlobalExport).(api.MutableGlobal)
}

func call(t *testing.T, ctx context.Context, mod api.Module, fn string, args ...uint64) []uint64 {
	t.Helper()
	f := mod.ExportedFunction(fn)
	if f == nil {
		t.Fatalf("no export %q", fn)
	}
	res, err := f.Call(ctx, args...)
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	return res
}

func TestTamperLookalikes(t *testing.T) {
	t.Parallel()
	ctx, r, m := tamperRuntime(t)
	mod, err := r.Instantiate(ctx, instrument(t, wat(t, "tamper_lookalike")))
	if err != nil {
		t.Fatal(err)
	}
	const start = 1_000_000
	counter(mod).Set(start)
	call(t, ctx, mod, "clobber")
	// clobber is 7 instructions (3 × const+set, end), a call of an import
	// and no loop: the counter moved by exactly that, whatever the guest
	// wrote.
	if got, want := int64(counter(mod).Get()), int64(start-7-HostCallFuel); got != want {
		t.Errorf("counter is %d after clobber, want %d", got, want)
	}
	env := r.Module("env")
	if got := env.ExportedGlobal("calls").Get(); got != 1 {
		t.Errorf("the guest's own yield import was called %d times, want 1", got)
	}
	if n := m.yields.Load(); n != 0 {
		t.Errorf("the injected yield was called %d times by a guest with fuel left", n)
	}
	if got := env.ExportedGlobal(GlobalExport).Get(); got != 1<<62 {
		t.Errorf("env's global named %q is %#x, want the guest's write", GlobalExport, got)
	}
	if got := mod.ExportedGlobal("fuel").Get(); got != 1<<62 {
		t.Errorf("the guest's own global \"fuel\" is %#x, want its write", got)
	}
}

func TestTamperExports(t *testing.T) {
	t.Parallel()
	orig := wat(t, "tamper_exports")
	var mods [2]api.Module
	var ctxs [2]context.Context
	for i, b := range [][]byte{orig, instrument(t, orig)} {
		ctx, r, _ := tamperRuntime(t)
		mod, err := r.Instantiate(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		mods[i], ctxs[i] = mod, ctx
	}
	o, n := mods[0], mods[1]
	od, nd := o.ExportedFunctionDefinitions(), n.ExportedFunctionDefinitions()
	if len(od) != len(nd) {
		t.Fatalf("%d exported functions before, %d after", len(od), len(nd))
	}
	for name, d := range od {
		if nd[name] == nil || nd[name].Name() != d.Name() {
			t.Errorf("export %q names function %v before and %v after", name, d.Name(), nd[name])
		}
	}
	for _, fn := range []string{"f0", "f1", "f2"} {
		if a, b := call(t, ctxs[0], o, fn), call(t, ctxs[1], n, fn); a[0] != b[0] {
			t.Errorf("%s returns %d before, %d after", fn, a[0], b[0])
		}
	}
	for i, want := range []uint64{11, 12} {
		if got := call(t, ctxs[1], n, "indirect", uint64(i)); got[0] != want {
			t.Errorf("indirect(%d) = %d, want %d", i, got[0], want)
		}
	}
	// With the counter at a sentinel, the exported globals are unchanged,
	// and set writes them without touching the counter.
	const sentinel = 777_777
	counter(n).Set(sentinel)
	for _, g := range []string{"g0", "g1", "g2", "g3"} {
		if a, b := o.ExportedGlobal(g).Get(), n.ExportedGlobal(g).Get(); a != b {
			t.Errorf("global %s is %d before, %d after the rewrite", g, a, b)
		}
	}
	call(t, ctxs[1], n, "set", 99)
	if g0, g1 := n.ExportedGlobal("g0").Get(), n.ExportedGlobal("g1").Get(); g0 != 99 || g1 != 99 {
		t.Errorf("set(99) left g0=%d g1=%d", g0, g1)
	}
	if got := counter(n).Get(); got != sentinel-5 { // 2 × get+set, end
		t.Errorf("counter is %d after set, want %d", got, sentinel-5)
	}
	if n.ExportedMemory("memory") == nil || o.ExportedMemory("memory").Size() != n.ExportedMemory("memory").Size() {
		t.Error("the exported memory changed")
	}
}

func TestTamperRefused(t *testing.T) {
	t.Parallel()
	cases := []struct{ file, want string }{
		{"tamper_import_yield", `imports "isle:fuel"."yield": the import module "isle:fuel" is reserved`},
		{"tamper_import_global", `imports "isle:fuel"."counter"`},
		{"tamper_export_name", `exports a global named "isle:fuel": that export name is reserved`},
		{"oob_global_get", "invalid module: function 0: global index 2 out of range (module has 2 globals)"},
		{"oob_global_set", "invalid module: function 0: global index 1 out of range (module has 1 globals)"},
		{"oob_global_init", "invalid module: global 1: global index 2 out of range (module has 2 globals)"},
		{"oob_export_global", `invalid module: export "fuel": global index 1 out of range (module has 1 globals)`},
		{"oob_call", "invalid module: function 0: function index 1 out of range (module has 1 functions)"},
		{"oob_type", "invalid module: function 0: type index 1 out of range (module has 1 types)"},
	}
	ctx := context.Background()
	r := newRuntime(t, ctx, &meter{slice: 1})
	for _, c := range cases {
		b := wat(t, c.file, "--no-check")
		_, err := Instrument(b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.file, err, c.want)
		}
		if strings.HasPrefix(c.file, "oob_") {
			// The originals are invalid: wazero refuses them too.
			if _, err := r.CompileModule(ctx, b); err == nil {
				t.Errorf("%s: wazero accepts the original", c.file)
			}
		}
	}
}

func TestRefusesOtherProposals(t *testing.T) {
	t.Parallel()
	cases := []struct{ file, flag, want string }{
		{"atomics", "--enable-threads", "invalid module: function 1: unsupported opcode 0xfe 0x10 (threads/atomics)"},
		{"exceptions", "--enable-exceptions", "exception handling"},
	}
	for _, c := range cases {
		_, err := Instrument(wat(t, c.file, c.flag))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.file, err, c.want)
		}
	}
}
