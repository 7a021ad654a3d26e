// Package abi is the "isle" host module: the functions a guest imports to
// reach the kernel. Each function checks its arguments the same way:
//
//   - a pointer range outside the caller's memory, a handle that is not in
//     its table, a handle of the wrong kind, a system tag or an unknown
//     flag is misuse, and abandons the caller at once (CauseMisuse);
//   - an expected failure (timeout, peer gone, mailbox full, missing
//     right, limit reached) is returned as a negative error code.
//
// docs/ABI.md is the reference for every function.
package abi

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/fault"
	"github.com/isle-run/isle/internal/kernel"
)

// ModuleName is the import module guests use.
const ModuleName = "isle"

// Error codes returned to guests.
const (
	ETimeout  int32 = -1
	EGone     int32 = -2
	EFull     int32 = -3
	ETooBig   int32 = -4
	ERights   int32 = -5
	ERevoked  int32 = -6
	ELimit    int32 = -7
	ENotFound int32 = -8
	EIO       int32 = -9
	EDenied   int32 = -10
)

// Install adds the isle host module to k: the kernel's functions, and
// those of each service.
func Install(ctx context.Context, k *kernel.Kernel, services ...[]Func) error {
	b := k.Runtime().NewHostModuleBuilder(ModuleName)
	for _, fs := range append([][]Func{functions, capFunctions}, services...) {
		for _, f := range fs {
			b.NewFunctionBuilder().
				WithGoModuleFunction(f.Fn, f.Params, f.Results).
				WithName(f.Name).
				Export(f.Name)
		}
	}
	return k.AddHostModule(ctx, b, ModuleName)
}

// Func is one import: its name, signature and implementation. Service
// packages provide their own and pass them to Install.
type Func struct {
	Name    string
	Params  []api.ValueType
	Results []api.ValueType
	Fn      api.GoModuleFunc
}

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// I32s returns n i32 parameter types, the shape of most ABI functions.
func I32s(n int) []api.ValueType { return sig(n) }

// RetI32 is the result type of every ABI function but exit.
var RetI32 = []api.ValueType{i32}

func sig(n int) []api.ValueType {
	out := make([]api.ValueType, n)
	for i := range out {
		out[i] = i32
	}
	return out
}

var ret32 = []api.ValueType{i32}

// Ctx is the context of one host call: the calling process, its memory,
// and the function's name for misuse reports.
type Ctx struct {
	P    *kernel.Process
	Mem  api.Memory
	Name string
}

// Enter starts a host call: it finds the calling process and makes the
// call a point where a pending kill takes effect.
func Enter(ctx context.Context, mod api.Module, name string) Ctx {
	p := kernel.ProcessFrom(ctx)
	if p == nil {
		panic(&fault.Abandon{Cause: isleapi.CauseHostFault, Detail: name + " called outside a process"})
	}
	// Every host call is a point where a kill takes effect, so a guest
	// looping on calls stops at once rather than at its next fuel yield.
	p.CheckKilled()
	return Ctx{P: p, Mem: mod.Memory(), Name: name}
}

// Misuse abandons the caller with a reason naming the function.
func (c Ctx) Misuse(format string, args ...any) {
	panic(&fault.Abandon{Cause: isleapi.CauseMisuse, Detail: c.Name + ": " + fmt.Sprintf(format, args...)})
}

// Bytes returns the guest's memory at [ptr, ptr+n), or abandons.
func (c Ctx) Bytes(ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	if c.Mem == nil {
		c.Misuse("the module has no memory")
	}
	b, ok := c.Mem.Read(ptr, n)
	if !ok {
		c.Misuse("range [%#x, %#x+%d) is outside its %d-byte memory", ptr, ptr, n, c.Mem.Size())
	}
	return b
}

// Code maps an expected failure to its ABI code. Anything else is a fault
// in isle, reported as such rather than crashing the node.
func (c Ctx) Code(err error) int32 {
	switch {
	case errors.Is(err, kernel.ErrTimeout):
		return ETimeout
	case errors.Is(err, kernel.ErrGone), errors.Is(err, kernel.ErrStartFailed):
		return EGone
	case errors.Is(err, kernel.ErrFull):
		return EFull
	case errors.Is(err, kernel.ErrTooBig):
		return ETooBig
	case errors.Is(err, kernel.ErrRights):
		return ERights
	case errors.Is(err, kernel.ErrRevoked):
		return ERevoked
	case errors.Is(err, kernel.ErrLimit), errors.Is(err, kernel.ErrTableFull):
		return ELimit
	case errors.Is(err, kernel.ErrNoMatch):
		return ENotFound
	case errors.Is(err, kernel.ErrIO):
		return EIO
	case errors.Is(err, kernel.ErrDenied):
		return EDenied
	}
	panic(&fault.Abandon{Cause: isleapi.CauseHostFault, Detail: c.Name + ": " + err.Error()})
}

// Lookup returns the capability h names, of any kind, abandoning if h is
// not in the caller's table.
func (c Ctx) Lookup(h uint32) *kernel.Cap {
	cp, ok := c.P.Handles().Get(kernel.Handle(h))
	if !ok {
		c.Misuse("handle %d is not in the process's handle table", h)
	}
	return cp
}

// Cap returns the capability h names, abandoning if it is not in the table
// or not of the wanted kind.
func (c Ctx) Cap(h uint32, kind kernel.Kind) *kernel.Cap {
	cp := c.Lookup(h)
	if cp.Kind != kind {
		c.Misuse("handle %d is a %s handle, not a %s handle", h, cp.Kind, kind)
	}
	return cp
}

// process resolves a process handle, which names a process or a service,
// and must carry need. A non-zero code is a missing or revoked right.
func (c Ctx) process(h uint32, need kernel.Rights) (kernel.Target, int32) {
	cp := c.Cap(h, kernel.KindProcess)
	if err := cp.Check(need); err != nil {
		return nil, c.Code(err)
	}
	return cp.Object.(kernel.Target), 0
}

// Use resolves h to the object of a capability of kind that carries need.
// A missing right or a revoked handle is an expected failure (code != 0).
func (c Ctx) Use(h uint32, kind kernel.Kind, need kernel.Rights) (any, int32) {
	cp := c.Cap(h, kind)
	if err := cp.Check(need); err != nil {
		return nil, c.Code(err)
	}
	return cp.Object, 0
}

// SetResult stores an ABI result.
func SetResult(stack []uint64, v int32) { stack[0] = uint64(uint32(v)) }
