package fuel

import (
	"context"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
)

// run instantiates the instrumented module in a fresh runtime, calls one
// export, and returns the results, the fuel used and the meter.
func run(t *testing.T, wasm []byte, slice int64, fn string, args ...uint64) ([]uint64, int64, *meter, error) {
	t.Helper()
	ctx := context.Background()
	m := &meter{slice: slice}
	r := newRuntime(t, ctx, m)
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	res, err := mod.ExportedFunction(fn).Call(ctx, args...)
	return res, m.used(mod), m, err
}

func TestSpinYieldsUntilKilled(t *testing.T) {
	t.Parallel()
	b := instrument(t, wat(t, "metering"))
	ctx := context.Background()
	m := &meter{slice: 1000, limit: 50}
	r := newRuntime(t, ctx, m)
	mod, err := r.Instantiate(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	_, err = mod.ExportedFunction("spin").Call(ctx)
	if !errors.Is(err, errOutOfFuel) {
		t.Fatalf("spin returned %v, want the host's out-of-fuel error", err)
	}
	if n := m.yields.Load(); n != 51 {
		t.Fatalf("yield called %d times, want 51", n)
	}
}

func TestRecursionYields(t *testing.T) {
	t.Parallel()
	b := instrument(t, wat(t, "metering"))
	res, used, m, err := run(t, b, 10, "recurse", 5000)
	if err != nil || res[0] != 5000 {
		t.Fatalf("recurse(5000) = %v, %v", res, err)
	}
	// Each call passes the entry check once, charging at least 5 units.
	if n := m.yields.Load(); n < 5000*5/10 {
		t.Fatalf("yield called %d times for %d units of fuel", n, used)
	}
}

func TestFuelIsDeterministic(t *testing.T) {
	t.Parallel()
	b := instrument(t, wat(t, "metering"))
	var first int64
	for i, slice := range []int64{1, 7, 1000, 1 << 40} {
		res, used, _, err := run(t, b, slice, "nested", 30)
		if err != nil || res[0] != 900 {
			t.Fatalf("nested(30) = %v, %v", res, err)
		}
		if i == 0 {
			first = used
		} else if used != first {
			t.Fatalf("slice %d: used %d fuel, with slice 1 it used %d", slice, used, first)
		}
	}
	if first <= 0 {
		t.Fatalf("used %d fuel", first)
	}
}

func TestDeeperWorkChargesMore(t *testing.T) {
	t.Parallel()
	b := instrument(t, wat(t, "metering"))
	used := func(fn string, n uint64) int64 {
		_, u, _, err := run(t, b, 5, fn, n)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	// The loop of count holds 9 instructions and its header runs n+1 times.
	if d := used("count", 1000) - used("count", 100); d != 9*900 {
		t.Errorf("count(1000) - count(100) used %d fuel, want %d", d, 9*900)
	}
	if a, b := used("nested", 10), used("nested", 20); a >= b {
		t.Errorf("nested(10) used %d, nested(20) used %d", a, b)
	}
	if a, b := used("recurse", 10), used("recurse", 100); a >= b {
		t.Errorf("recurse(10) used %d, recurse(100) used %d", a, b)
	}
}

func TestTailCalls(t *testing.T) {
	t.Parallel()
	b := instrument(t, wat(t, "tailcall", "--enable-tail-call"))
	ctx := context.Background()
	m := &meter{slice: 100, limit: 1000}
	r := newRuntime(t, ctx, m, experimental.CoreFeaturesTailCall)
	mod, err := r.Instantiate(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[uint64]uint64{0: 1, 1: 0, 10: 1, 777: 0} {
		if res, err := mod.ExportedFunction("even").Call(ctx, n); err != nil || res[0] != want {
			t.Errorf("even(%d) = %v, %v; want %d", n, res, err, want)
		}
	}
	if _, err := mod.ExportedFunction("forever").Call(ctx); !errors.Is(err, errOutOfFuel) {
		t.Fatalf("forever returned %v, want out of fuel", err)
	}
}
