package shape

import (
	"errors"
	"strings"
	"testing"

	"github.com/isle-run/isle/internal/wasm"
)

// richModule has at least two of everything a limit counts, so that each
// limit can be set one below the module's value.
func richModule() []byte {
	i32 := wasm.Expr{byte(wasm.OpI32Const), 0, byte(wasm.OpEnd)}
	m := &modBuilder{
		types: []wasm.FuncType{{}, funcType(2, 1), {Params: []wasm.ValType{wasm.I64}}},
		imports: []wasm.Import{
			{Module: "env", Name: "f", Kind: wasm.KindFunc, Func: 0},
			{Module: "env", Name: "g", Kind: wasm.KindFunc, Func: 1},
			{Module: "env", Name: "t", Kind: wasm.KindTable, Table: wasm.TableType{Elem: wasm.FuncRef, Limits: wasm.Limits{Min: 5}}},
			{Module: "env", Name: "c", Kind: wasm.KindGlobal, Global: wasm.GlobalType{Type: wasm.I32}},
		},
		tables:  []wasm.TableType{{Elem: wasm.FuncRef, Limits: wasm.Limits{Flags: 1, Min: 7, Max: 9}}},
		mems:    []wasm.Limits{{Min: 3}},
		globals: []wasm.Global{{Type: wasm.GlobalType{Type: wasm.I32, Mutable: true}, Init: i32}},
		exports: []wasm.Export{{Name: "a", Kind: wasm.KindFunc, Index: 2}, {Name: "m", Kind: wasm.KindMemory}},
		elems: []wasm.Element{
			{Offset: i32, Type: wasm.FuncRef, Funcs: []uint32{2, 3, 4}},
			{Flags: 5, Type: wasm.FuncRef, Exprs: []wasm.Expr{{byte(wasm.OpRefFunc), 2, byte(wasm.OpEnd)}}},
		},
		data: []wasm.Data{{Offset: i32, Init: []byte("hi")}, {Flags: 1, Init: []byte("there")}},
		customs: []wasm.Section{{Name: "a", Payload: []byte{1}}, {Name: "b"},
			{Name: "name", Payload: functionNames(map[uint32]string{3: "deep"})}},
	}
	m.fn(body())
	// Function 3, of type 1: two params, five locals in two runs, blocks
	// nested three deep and a br_table of four targets.
	m.funcs = append(m.funcs, 1)
	code := []byte{2, 2, byte(wasm.I32), 3, byte(wasm.I64)}
	code = append(code, nest(wasm.OpLoop, 2)[:4]...)
	code = append(code, brTable(4)...)
	code = append(code, byte(wasm.OpEnd), byte(wasm.OpEnd), byte(wasm.OpLocalGet), 0, byte(wasm.OpEnd))
	m.bodies = append(m.bodies, code)
	m.fn(body(nest(wasm.OpIf, 2)))
	return m.bytes()
}

// functionNames is a name section payload naming functions.
func functionNames(names map[uint32]string) []byte {
	var assoc []wasm.NameAssoc
	for i, n := range names {
		assoc = append(assoc, wasm.NameAssoc{Index: i, Name: n})
	}
	return wasm.EncodeNameSubsections([]wasm.NameSubsection{{ID: wasm.NameFunction, Payload: wasm.AppendNameMap(nil, assoc)}})
}

// TestEveryLimit checks each limit at the module's own value, where it
// passes, and one below it, where it fails naming that limit.
func TestEveryLimit(t *testing.T) {
	bin := richModule()
	got, err := Measure(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", got)
	if err := Check(bin, got); err != nil {
		t.Fatalf("Check at the module's own shape: %v", err)
	}
	for i, name := range fieldNames {
		lim := got
		f := lim.fields()[i]
		if *f < 2 {
			t.Errorf("%s: the test module has %d; it needs at least 2", name, *f)
			continue
		}
		want := *f
		*f--
		err := Check(bin, lim)
		var le *LimitError
		if !errors.As(err, &le) || le.Limit != name || le.Value != uint64(want) || le.Max != uint64(want-1) {
			t.Errorf("%s at %d: got %v, want a LimitError for %s with value %d", name, want-1, err, name, want)
			continue
		}
		if !errors.Is(err, ErrShape) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %q does not wrap ErrShape or is not one line", name, err)
		}
	}
}

func TestZeroMeansDefaultNegativeMeansNone(t *testing.T) {
	bin := richModule()
	if err := Check(bin, Limits{}); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	var le *LimitError
	if err := Check(bin, Limits{Imports: -1}); !errors.As(err, &le) || le.Limit != "Imports" || le.Max != 0 {
		t.Fatalf("Imports: -1 gave %v", err)
	}
	d := DefaultLimits()
	for i, f := range d.fields() {
		if *f <= 0 {
			t.Errorf("default %s is %d", fieldNames[i], *f)
		}
	}
}

func TestMessages(t *testing.T) {
	nameSec := wasm.Section{Name: "name", Payload: functionNames(map[uint32]string{1: "main.deep", 2: "bad\nname"})}
	deep := &modBuilder{customs: []wasm.Section{nameSec}}
	deep.fn(body()).fn(body(nest(wasm.OpBlock, 5))).fn(body(brTable(9)))
	bin := deep.bytes()
	for _, c := range []struct {
		lim  Limits
		want string
	}{
		{Limits{Nesting: 4}, "module shape: function 1 (main.deep) nests blocks 5 deep, over the limit of 4"},
		{Limits{BrTableTargets: 8}, `module shape: function 2 ("bad\nname") has a br_table of 9 targets, over the limit of 8`},
		{Limits{Functions: 2}, "module shape: module has 3 functions, over the limit of 2"},
		{Limits{CustomSections: -1}, "module shape: module has 1 custom sections, over the limit of 0"},
		{Limits{FunctionBytes: 3}, "module shape: function 1 (main.deep) has a body of 17 bytes, over the limit of 3"},
	} {
		if err := Check(bin, c.lim); err == nil || err.Error() != c.want {
			t.Errorf("%+v:\n got %v\nwant %s", c.lim, err, c.want)
		}
	}
	rich := richModule()
	for _, c := range []struct {
		lim  Limits
		want string
	}{
		{Limits{TableMin: 6}, "module shape: table 1 starts with 7 elements, over the limit of 6"},
		{Limits{MemoryMinPages: 2}, "module shape: memory 0 starts with 3 pages, over the limit of 2"},
		{Limits{ElemSegmentItems: 2}, "module shape: element segment 0 has 3 items, over the limit of 2"},
		{Limits{TypeArity: 2}, "module shape: type 1 has 3 params and results, over the limit of 2"},
		{Limits{Locals: 6}, "module shape: function 3 (deep) has 7 params and locals, over the limit of 6"},
		{Limits{ModuleBytes: 100}, "module shape: module is " + itoa(len(rich)) + " bytes, over the limit of 100"},
	} {
		if err := Check(rich, c.lim); err == nil || err.Error() != c.want {
			t.Errorf("%+v:\n got %v\nwant %s", c.lim, err, c.want)
		}
	}
}

func itoa(n int) string {
	var b []byte
	for ; n > 0 || len(b) == 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestMalformed checks that bytes too broken to walk give an error that
// wraps ErrShape and is not a LimitError.
func TestMalformed(t *testing.T) {
	good := richModule()
	for name, bin := range map[string][]byte{
		"empty":                 nil,
		"bad magic":             []byte("\x00asn\x01\x00\x00\x00"),
		"truncated":             good[:len(good)/2],
		"section too long":      append(append([]byte{}, good[:8]...), 1, 0xff, 0xff, 0xff, 0x0f, 0),
		"unknown section":       append(append([]byte{}, good[:8]...), 14, 0),
		"sections out of order": append(append([]byte{}, good[:8]...), 3, 1, 0, 1, 1, 0),
		"code after the end":    (&modBuilder{}).fn([]byte{0, byte(wasm.OpEnd), byte(wasm.OpNop), byte(wasm.OpEnd)}).bytes(),
		"unknown opcode":        (&modBuilder{}).fn([]byte{0, 0xfe, 0, byte(wasm.OpEnd)}).bytes(),
		"bad constant":          (&modBuilder{globals: []wasm.Global{{Type: wasm.GlobalType{Type: wasm.I32}, Init: wasm.Expr{byte(wasm.OpNop), byte(wasm.OpEnd)}}}}).bytes(),
	} {
		err := Check(bin, Limits{})
		var le *LimitError
		if err == nil || !errors.Is(err, ErrShape) || errors.As(err, &le) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
