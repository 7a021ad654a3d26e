package capkind

import "github.com/tetratelabs/wazero/api"

// Func is one function of the isle host module: its name, its parameters
// by name and type, whether it returns an i32 (every function but exit
// does), and its implementation. docs/ABI.md documents each under a
// heading that repeats the name and the parameters; a test holds the two
// together.
type Func struct {
	Name   string
	Params []Param
	Result bool
	Fn     api.GoModuleFunc
}

// Param is one parameter of a host function.
type Param struct {
	Name string
	Type api.ValueType
}

// I32 is an i32 parameter: a handle, pointer, length, tag or flags.
func I32(name string) Param { return Param{Name: name, Type: api.ValueTypeI32} }

// I64 is an i64 parameter: a timeout in nanoseconds.
func I64(name string) Param { return Param{Name: name, Type: api.ValueTypeI64} }

// I32s names consecutive i32 parameters, the shape of most functions.
func I32s(names ...string) []Param {
	out := make([]Param, len(names))
	for i, n := range names {
		out[i] = I32(n)
	}
	return out
}

// Types returns the parameters' types, as wazero takes them.
func (f *Func) Types() []api.ValueType {
	out := make([]api.ValueType, len(f.Params))
	for i, p := range f.Params {
		out[i] = p.Type
	}
	return out
}

// Results returns the result types, as wazero takes them.
func (f *Func) Results() []api.ValueType {
	if !f.Result {
		return nil
	}
	return []api.ValueType{api.ValueTypeI32}
}
