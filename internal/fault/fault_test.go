package fault

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/wasm"
)

// trapModule has one exported function per way to trap, each a body of
// the instructions that trap, and two that call host functions panicking
// with an *Abandon and with an error isle does not know.
func trapModule() (bin []byte, names []string) {
	bodies := []struct {
		name string
		code []byte
	}{
		{"unreachable", []byte{0x00}},
		{"divzero", []byte{0x41, 0x01, 0x41, 0x00, 0x6d, 0x1a}},                          // 1 / 0
		{"overflow", []byte{0x41, 0x80, 0x80, 0x80, 0x80, 0x78, 0x41, 0x7f, 0x6d, 0x1a}}, // MinInt32 / -1
		{"conversion", []byte{0x43, 0x00, 0x00, 0xc0, 0x7f, 0xa8, 0x1a}},                 // i32.trunc_f32_s(NaN)
		{"bounds", []byte{0x41, 0x7f, 0x28, 0x02, 0x00, 0x1a}},                           // i32.load at 0xffffffff
		{"recurse", []byte{0x10, 0x08}},                                                  // calls itself (function 8)
		{"table", []byte{0x41, 0x05, 0x11, 0x00, 0x00}},                                  // call_indirect past the table
		{"signature", []byte{0x41, 0x00, 0x11, 0x00, 0x00}},                              // element 0 is (i32) -> ()
		{"null", []byte{0x41, 0x01, 0x11, 0x00, 0x00}},                                   // element 1 is null
		{"abandon", []byte{0x10, 0x00}},                                                  // env.abandon
		{"hostbug", []byte{0x10, 0x01}},                                                  // env.hostbug
	}
	m := &wasm.Module{}
	m.Put(wasm.SectionType, wasm.EncodeTypes([]wasm.FuncType{{}, {Params: []wasm.ValType{wasm.I32}}}))
	m.Put(wasm.SectionImport, wasm.EncodeImports([]wasm.Import{
		{Module: "env", Name: "abandon", Kind: wasm.KindFunc, Func: 0},
		{Module: "env", Name: "hostbug", Kind: wasm.KindFunc, Func: 0},
	}))
	funcs := []uint32{1} // function 2: the (i32) -> () target of element 0
	exports := []wasm.Export{{Name: "memory", Kind: wasm.KindMemory}}
	code := []wasm.Code{{Body: []byte{0x00, 0x0b}}}
	for i, b := range bodies {
		funcs = append(funcs, 0)
		exports = append(exports, wasm.Export{Name: b.name, Kind: wasm.KindFunc, Index: uint32(3 + i)})
		code = append(code, wasm.Code{Body: append(append([]byte{0x00}, b.code...), 0x0b)})
		names = append(names, b.name)
	}
	m.Put(wasm.SectionFunction, wasm.EncodeIndices(funcs))
	m.Put(wasm.SectionTable, wasm.EncodeTables([]wasm.TableType{{Elem: wasm.FuncRef, Limits: wasm.Limits{Min: 2}}}))
	m.Put(wasm.SectionMemory, wasm.EncodeMemories([]wasm.Limits{{Min: 1}}))
	m.Put(wasm.SectionExport, wasm.EncodeExports(exports))
	m.Put(wasm.SectionElement, wasm.EncodeElements([]wasm.Element{{Offset: wasm.Expr{0x41, 0x00, 0x0b}, Funcs: []uint32{2}}}))
	m.Put(wasm.SectionCode, wasm.EncodeCode(code))
	return m.Encode(), names
}

// Real wazero errors, from a real module trapping each way, map to their
// causes; the trap's frames come with them.
func TestFromErrorOnWazeroTraps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	_, err := rt.NewHostModuleBuilder("env").
		NewFunctionBuilder().WithGoModuleFunction(wapi.GoModuleFunc(func(context.Context, wapi.Module, []uint64) {
		panic(&Abandon{Cause: api.CauseMisuse, Detail: "send: handle 7 is not in the process's handle table"})
	}), nil, nil).Export("abandon").
		NewFunctionBuilder().WithGoModuleFunction(wapi.GoModuleFunc(func(context.Context, wapi.Module, []uint64) {
		panic(errors.New("a bug in isle"))
	}), nil, nil).Export("hostbug").
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := trapModule()
	mod, err := rt.Instantiate(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]api.Abandonment{
		"unreachable": {Cause: api.CauseUnreachable},
		"divzero":     {Cause: api.CauseDivideByZero},
		"overflow":    {Cause: api.CauseIntegerOverflow},
		"conversion":  {Cause: api.CauseInvalidConversion},
		"bounds":      {Cause: api.CauseOutOfBounds},
		"recurse":     {Cause: api.CauseStackExhausted},
		"table":       {Cause: api.CauseTableAccess},
		"signature":   {Cause: api.CauseIndirectCallType},
		"null":        {Cause: api.CauseTableAccess},
		"abandon":     {Cause: api.CauseMisuse, Detail: "send: handle 7 is not in the process's handle table"},
		"hostbug":     {Cause: api.CauseHostFault, Detail: "a bug in isle (recovered by wazero)"},
	}
	for name, w := range want {
		_, err := mod.ExportedFunction(name).Call(ctx)
		if err == nil {
			t.Errorf("%s: did not trap", name)
			continue
		}
		got := FromError(err)
		if got.Cause != w.Cause || got.Detail != w.Detail {
			t.Errorf("%s: %v (%q); want %v (%q)\nfrom %v", name, got.Cause, got.Detail, w.Cause, w.Detail, err)
		}
		if name == "recurse" {
			continue // wazero reports a stack overflow without a trace
		}
		if len(got.Frames) == 0 || got.Frames[0].Function == "" {
			t.Errorf("%s: no frames in %+v", name, got)
		}
	}
}

func TestFromErrorOnOtherErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err   error
		cause api.Cause
		det   string
	}{
		{errors.New("wasm error: something new\nwasm stack trace:\n\t.f()"), api.CauseHostFault, "something new"},
		{errors.New("context canceled"), api.CauseHostFault, "context canceled"},
		{errors.New("stack overflow"), api.CauseStackExhausted, ""},
		{&Abandon{Cause: api.CauseFuelExhausted}, api.CauseFuelExhausted, ""},
	}
	for _, c := range cases {
		got := FromError(c.err)
		if got.Cause != c.cause || got.Detail != c.det {
			t.Errorf("%q: %v %q; want %v %q", c.err, got.Cause, got.Detail, c.cause, c.det)
		}
	}
}

// Frames reads wazero's trace, with DWARF source lines (file names may
// hold colons; the innermost inlined line wins) and an end at the first
// line that is not part of it.
func TestFrames(t *testing.T) {
	t.Parallel()
	msg := "wasm error: unreachable\nwasm stack trace:\n" +
		"\t.divide(i32,i32) i32\n" +
		"\t\t0x1f: /src/c:/traps.c:11:3 (inlined)\n" +
		"\t\t0x1f: /src/c:/outer.c:40:1\n" +
		"\t.main(i32,i32) i32\n" +
		"\t\t0x2a: /src/main.c:30\n" +
		"\tmod.$7()\n" +
		"\n" +
		"goroutine 1 [running]:\n\t/not/a/frame.go:1\n"
	got := Frames(msg)
	want := []api.Frame{
		{Function: "divide", Signature: "divide(i32,i32) i32", File: "/src/c:/traps.c", Line: 11, Column: 3},
		{Function: "main", Signature: "main(i32,i32) i32", File: "/src/main.c", Line: 30},
		{Function: "mod.$7", Signature: "mod.$7()"},
	}
	if len(got) != len(want) {
		t.Fatalf("frames %+v; want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("frame %d: %+v; want %+v", i, got[i], want[i])
		}
	}
	if Frames("no trace here") != nil {
		t.Error("frames from a message with no trace")
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	if got := (&Abandon{Cause: api.CauseMisuse, Detail: "x"}).Error(); !strings.HasSuffix(got, ": x") {
		t.Errorf("Abandon.Error() = %q", got)
	}
	if got := (&Abandon{Cause: api.CauseMisuse}).Error(); got != api.CauseMisuse.String() {
		t.Errorf("Abandon.Error() = %q", got)
	}
	if got := (&Kill{Reason: "timeout"}).Error(); got != "killed: timeout" {
		t.Errorf("Kill.Error() = %q", got)
	}
}
