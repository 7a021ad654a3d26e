package capkind

import (
	"errors"
	"strings"
	"testing"

	"github.com/isle-run/isle/api"
)

// testKind is a kind with every shape of manifest key, for the tests.
func testKind() *Descriptor {
	return &Descriptor{
		Kind: 200, Name: "thing", Summary: "a thing",
		Rights: RightSet{{Name: "poke", Bit: 1}, {Name: "prod", Bit: 2}},
		Fields: []Field{
			{Key: "path", Type: String, Required: true, Example: `path = "x"`},
			{Key: "tags", Type: Strings, Example: `tags = ["a"]`},
			{Key: "named", Type: StringMap, Example: `named = { a = "b" }`},
		},
		Parse: func(t *Table) (any, error) {
			if t.String("path") == "bad" {
				return nil, Errorf("path", "is bad")
			}
			return [3]any{t.Path("path"), t.Strings("tags"), t.StringMap("named")}, nil
		},
		Open: func(*Env, any, api.Rights) (any, func(), error) { return nil, nil, nil },
	}
}

func TestRegistryRefusesAmbiguity(t *testing.T) {
	t.Parallel()
	mutate := map[string]func(d *Descriptor){
		"number 0":        func(d *Descriptor) { d.Kind = 0 },
		"upper-case name": func(d *Descriptor) { d.Name = "Thing" },
		"no name":         func(d *Descriptor) { d.Name = "" },
		"taken number":    func(d *Descriptor) { d.Kind = 1 },
		"taken name":      func(d *Descriptor) { d.Name = "first" },
		"two-bit right":   func(d *Descriptor) { d.Rights[0].Bit = 3 },
		"same bit twice":  func(d *Descriptor) { d.Rights[1].Bit = 1 },
		"same name twice": func(d *Descriptor) { d.Rights[1].Name = "poke" },
		"taken function":  func(d *Descriptor) { d.Funcs = []Func{{Name: "first_fn"}} },
		"key twice":       func(d *Descriptor) { d.Fields = append(d.Fields, Field{Key: "path"}) },
		"key named kind":  func(d *Descriptor) { d.Fields = append(d.Fields, Field{Key: "kind"}) },
		"keys, no Parse":  func(d *Descriptor) { d.Parse = nil },
		"Parse, no Open":  func(d *Descriptor) { d.Open = nil },
		"Parse, no right": func(d *Descriptor) { d.Rights = nil },
	}
	for name, m := range mutate {
		r := newRegistry()
		r.register(&Descriptor{Kind: 1, Name: "first", Funcs: []Func{{Name: "first_fn"}}})
		d := testKind()
		if err := r.check(d); err != nil {
			t.Fatalf("the unmutated kind is refused: %v", err)
		}
		m(d)
		if err := r.check(d); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRegistryLooksUp(t *testing.T) {
	t.Parallel()
	r := newRegistry()
	r.register(&Descriptor{Kind: 9, Name: "nine", Funcs: []Func{{Name: "nine_fn"}}})
	r.register(&Descriptor{Kind: 3, Name: "three"})
	all := r.all()
	if len(all) != 2 || all[0].Name != "three" || all[1].Name != "nine" {
		t.Errorf("all = %v, want three then nine", all)
	}
	if r.funcs["nine_fn"].Kind != 9 || r.byName["three"].Kind != 3 {
		t.Error("lookups by function and name failed")
	}
	if got := Kind(250).String(); got != "kind 250" {
		t.Errorf("an unregistered kind is %q", got)
	}
}

func TestRightSets(t *testing.T) {
	t.Parallel()
	dir := RightSet{{Name: "read", Bit: 1}, {Name: "write", Bit: 2}, {Name: "create", Bit: 4}, {Name: "delete", Bit: 8}}
	if bit, ok := dir.bit("create"); !ok || bit != 4 {
		t.Errorf("bit(create) = %d, %v", bit, ok)
	}
	if _, ok := dir.bit("fly"); ok {
		t.Error("bit(fly) found")
	}
	if dir.All() != 15 || Use.All() != api.RightUse || ProcessRights.All() != api.RightSend|api.RightMonitor|api.RightKill {
		t.Error("All is not the union of the bits")
	}
}

// Every mistake in a [caps.NAME] table is a FieldError naming the key.
func TestParseTableErrors(t *testing.T) {
	t.Parallel()
	single := &Descriptor{Kind: 201, Name: "one", Rights: Use, Parse: NoSpec}
	cases := []struct {
		d            *Descriptor
		values       map[string]any
		key, message string
	}{
		{testKind(), map[string]any{"path": "p"}, "rights", "list the rights to grant, from poke, prod"},
		{testKind(), map[string]any{"path": "p", "rights": []any{"kick"}}, "rights", `unknown right "kick" for a thing capability; the rights are poke, prod`},
		{testKind(), map[string]any{"path": "p", "rights": "poke"}, "rights", `must be a list of rights, such as rights = ["poke"]`},
		{testKind(), map[string]any{"path": "p", "rights": []any{1}}, "rights", "must be a list of rights"},
		{testKind(), map[string]any{"rights": []any{"poke"}}, "", `a thing capability needs path (path = "x")`},
		{testKind(), map[string]any{"path": "", "rights": []any{"poke"}}, "", "a thing capability needs path"},
		{testKind(), map[string]any{"path": "p", "rights": []any{"poke"}, "colour": "red"}, "colour", "does not apply to a thing capability (its keys are kind, rights, path, tags, named)"},
		{testKind(), map[string]any{"path": 7, "rights": []any{"poke"}}, "path", `must be a string, such as path = "x"`},
		{testKind(), map[string]any{"path": "p", "rights": []any{"poke"}, "tags": "a"}, "tags", "must be a list of strings"},
		{testKind(), map[string]any{"path": "p", "rights": []any{"poke"}, "named": map[string]any{"a": 1}}, "named", "must be a table of strings"},
		{testKind(), map[string]any{"path": "bad", "rights": []any{"poke"}}, "path", "is bad"},
		{single, map[string]any{"rights": []any{"poke"}}, "rights", "a one capability has a single right; leave rights out"},
		{&Descriptor{Kind: 202, Name: "kernel"}, map[string]any{}, "kind", "a kernel capability cannot be granted by a manifest"},
	}
	for _, c := range cases {
		_, _, err := c.d.ParseTable("/m", c.values)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Key != c.key || !strings.Contains(fe.Msg, c.message) {
			t.Errorf("%v: got %v; want key %q, message %q", c.values, err, c.key, c.message)
		}
	}
}

func TestParseTable(t *testing.T) {
	t.Parallel()
	rights, spec, err := testKind().ParseTable("/m", map[string]any{
		"kind": "thing", "rights": []any{"prod"}, "path": "rel",
		"tags": []any{"a", "b"}, "named": map[string]any{"k": "v"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := spec.([3]any)
	if rights != 2 || got[0] != "/m/rel" || strings.Join(got[1].([]string), ",") != "a,b" || got[2].(map[string]string)["k"] != "v" {
		t.Errorf("rights %#x, spec %v", uint32(rights), got)
	}
	if _, spec, _ := testKind().ParseTable("/m", map[string]any{"rights": []any{"poke"}, "path": "/abs"}); spec.([3]any)[0] != "/abs" {
		t.Errorf("an absolute path was moved: %v", spec)
	}
	single := &Descriptor{Kind: 201, Name: "one", Rights: Use, Parse: NoSpec}
	for _, rs := range []any{nil, []any{"use"}} {
		if rights, _, err := single.ParseTable("/m", map[string]any{"rights": rs}); err != nil || rights != api.RightUse {
			t.Errorf("rights %v: %#x, %v", rs, uint32(rights), err)
		}
	}
}
