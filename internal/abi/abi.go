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
)

// Install adds the isle host module to k.
func Install(ctx context.Context, k *kernel.Kernel) error {
	b := k.Runtime().NewHostModuleBuilder(ModuleName)
	for _, f := range functions {
		b.NewFunctionBuilder().
			WithGoModuleFunction(f.fn, f.params, f.results).
			WithName(f.name).
			Export(f.name)
	}
	return k.AddHostModule(ctx, b, ModuleName)
}

// function is one import: its name, signature and implementation.
type function struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
	fn      api.GoModuleFunc
}

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

func sig(n int) []api.ValueType {
	out := make([]api.ValueType, n)
	for i := range out {
		out[i] = i32
	}
	return out
}

var ret32 = []api.ValueType{i32}

// call is the per-invocation context of a host function: the calling
// process, its memory, and the function's name for misuse reports.
type call struct {
	p    *kernel.Process
	mem  api.Memory
	name string
}

func enter(ctx context.Context, mod api.Module, name string) call {
	p := kernel.ProcessFrom(ctx)
	if p == nil {
		panic(&fault.Abandon{Cause: isleapi.CauseHostFault, Detail: name + " called outside a process"})
	}
	// Every host call is a point where a kill takes effect, so a guest
	// looping on calls stops at once rather than at its next fuel yield.
	p.CheckKilled()
	return call{p: p, mem: mod.Memory(), name: name}
}

// misuse abandons the caller.
func (c call) misuse(format string, args ...any) {
	panic(&fault.Abandon{Cause: isleapi.CauseMisuse, Detail: c.name + ": " + fmt.Sprintf(format, args...)})
}

// bytes returns the guest's memory at [ptr, ptr+n), or abandons.
func (c call) bytes(ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	if c.mem == nil {
		c.misuse("the module has no memory")
	}
	b, ok := c.mem.Read(ptr, n)
	if !ok {
		c.misuse("range [%#x, %#x+%d) is outside its %d-byte memory", ptr, ptr, n, c.mem.Size())
	}
	return b
}

// code maps an expected failure to its ABI code. Anything else is a fault
// in isle, reported as such rather than crashing the node.
func (c call) code(err error) int32 {
	switch {
	case errors.Is(err, kernel.ErrTimeout):
		return ETimeout
	case errors.Is(err, kernel.ErrGone):
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
	}
	panic(&fault.Abandon{Cause: isleapi.CauseHostFault, Detail: c.name + ": " + err.Error()})
}

// cap returns the capability h names, abandoning if it is not in the table
// or not of the wanted kind.
func (c call) cap(h uint32, kind kernel.Kind) *kernel.Cap {
	cp, ok := c.p.Handles().Get(kernel.Handle(h))
	if !ok {
		c.misuse("handle %d is not in the process's handle table", h)
	}
	if cp.Kind != kind {
		c.misuse("handle %d is a %s handle, not a %s handle", h, cp.Kind, kind)
	}
	return cp
}

// process resolves a process handle that must carry need. ok is false
// (with the error code set) when a right is missing or revoked.
func (c call) process(h uint32, need kernel.Rights) (*kernel.Process, int32) {
	cp := c.cap(h, kernel.KindProcess)
	if err := cp.Check(need); err != nil {
		return nil, c.code(err)
	}
	return cp.Object.(*kernel.Process), 0
}
