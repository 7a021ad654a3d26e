package shape

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
	"unsafe"

	"github.com/isle-run/isle/internal/wasm"
)

// hostile modules declare counts that wazero would allocate for before
// reading a single element.
func hostileModules() map[string]struct {
	bin   []byte
	limit string // the LimitError expected; "" for a malformed module
	lim   Limits // limits other than the defaults, to reach the one tested
} {
	maxLocals := wasm.AppendU32([]byte{1}, 1<<32-1)
	twoRuns := append(wasm.AppendU32([]byte{2}, 1<<32-1), byte(wasm.I32))
	twoRuns = append(wasm.AppendU32(twoRuns, 1<<32-1), byte(wasm.I32))
	bigTable := []byte{byte(wasm.OpBlock), 0x40, byte(wasm.OpI32Const), 0, byte(wasm.OpBrTable)}
	bigTable = wasm.AppendU32(bigTable, 5_000_000-1)
	bigTable = append(append(bigTable, bytes.Repeat([]byte{0}, 5_000_000)...), byte(wasm.OpEnd))
	header := append(append([]byte{}, wasm.Magic...), wasm.Version...)
	section := func(id byte, payload ...byte) []byte {
		return append(append(append([]byte{}, header...), id), append(wasm.AppendU32(nil, uint32(len(payload))), payload...)...)
	}
	huge := wasm.AppendU32(nil, 1<<32-1)
	return map[string]struct {
		bin   []byte
		limit string
		lim   Limits
	}{
		"2^32-1 locals":             {(&modBuilder{}).fn(append(append(maxLocals, byte(wasm.I32)), byte(wasm.OpEnd))).bytes(), "Locals", Limits{}},
		"2^33-2 locals in two runs": {(&modBuilder{}).fn(append(twoRuns, byte(wasm.OpEnd))).bytes(), "Locals", Limits{}},
		"5M br_table targets":       {(&modBuilder{}).fn(body(bigTable)).bytes(), "BrTableTargets", Limits{FunctionBytes: 8 << 20}},
		"1M nested blocks":          {(&modBuilder{}).fn(body(nest(wasm.OpBlock, 1_000_000))).bytes(), "Nesting", Limits{FunctionBytes: 8 << 20}},
		"16,000 ifs in a row": {(&modBuilder{}).fn(body(bytes.Repeat([]byte{byte(wasm.OpI32Const), 0, byte(wasm.OpIf), 0x40, byte(wasm.OpEnd)}, 16000))).bytes(),
			"FunctionWork", Limits{}},
		"locals read in nested loops": {loopsLocals(64, 4096), "FunctionWork", Limits{}},
		"2^32-1 page memory":          {section(5, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f), "MemoryMinPages", Limits{}},
		"2^32-1 element table":        {section(4, 1, byte(wasm.FuncRef), 0, 0xff, 0xff, 0xff, 0xff, 0x0f), "TableMin", Limits{}},
		"2^32-1 types":                {section(1, huge...), "", Limits{}},
		"2^32-1 functions":            {section(3, huge...), "", Limits{}},
		"2^32-1 code bodies":          {section(10, huge...), "", Limits{}},
		"2^32-1 data segments":        {section(11, huge...), "", Limits{}},
		"2^32-1 element items":        {section(9, append([]byte{1, 1, 0}, huge...)...), "", Limits{}},
		"4 GiB custom section":        {append(append(header, 0), huge...), "", Limits{}},
		"2^32-1 function names": {section(0, append([]byte{4, 'n', 'a', 'm', 'e', wasm.NameFunction, 5},
			huge...)...), "", Limits{}},
	}
}

// TestHostileCounts checks that each hostile module is refused, naming the
// right limit, with a few small allocations at most: only the label stack
// grows, and only up to the nesting limit.
func TestHostileCounts(t *testing.T) {
	for name, h := range hostileModules() {
		err := Check(h.bin, h.lim)
		var le *LimitError
		switch {
		case h.limit == "" && (err == nil || errors.As(err, &le) || !errors.Is(err, ErrShape)):
			t.Errorf("%s: got %v, want a malformed-module error", name, err)
		case h.limit != "" && (!errors.As(err, &le) || le.Limit != h.limit):
			t.Errorf("%s: got %v, want a LimitError for %s", name, err, h.limit)
		}
		allocs, bytes := allocations(func() { _ = Check(h.bin, h.lim) })
		if allocs > 32 || bytes > 4<<10+labelBytes*uint64(DefaultLimits().Nesting) {
			t.Errorf("%s: Check allocated %.0f times, %d bytes", name, allocs, bytes)
		}
		t.Logf("%s: %v (%.0f allocations, %d bytes)", name, err, allocs, bytes)
	}
}

// labelBytes bounds what the label stack takes per open label, allowing for
// the slack of append (the sizes it steps through add up to about four times
// the last).
var labelBytes = 5 * uint64(unsafe.Sizeof(label{}))

// allocations reports what one call of f allocates.
func allocations(f func()) (allocs float64, bytes uint64) {
	allocs = testing.AllocsPerRun(5, f)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return allocs, after.TotalAlloc - before.TotalAlloc
}

// TestCheckAllocatesLittle bounds what Check allocates for a module that
// passes: the arity of its types, the type of each function and the label
// stack, nothing in proportion to its code.
func TestCheckAllocatesLittle(t *testing.T) {
	bin := richModule()
	allocs, n := allocations(func() {
		if err := Check(bin, Limits{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 8 || n > 4<<10 {
		t.Errorf("Check allocated %.0f times, %d bytes", allocs, n)
	}
}
