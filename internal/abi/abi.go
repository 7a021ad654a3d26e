// Package abi is the "isle" host module: the functions a guest imports to
// reach the kernel. It holds the functions that take no handle of a
// particular kind (recv, close, dup...), the kernel's own kinds (process,
// reply, spawner, revoker) with theirs, and Ctx, with which every host
// function, here and in the services, checks its arguments the same way:
//
//   - a pointer range outside the caller's memory, a handle that is not in
//     its table, a handle of the wrong kind, a system tag or an unknown
//     flag is misuse, and abandons the caller at once (CauseMisuse);
//   - an expected failure (timeout, peer gone, mailbox full, missing
//     right, limit reached) is returned as a negative error code.
//
// docs/ABI.md is the reference for every function; a test holds its
// headings and the functions registered here together.
package abi

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
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

// Functions returns the whole host module: the functions of no particular
// kind, then those of every registered kind, by kind.
func Functions() []capkind.Func {
	out := append([]capkind.Func(nil), functions...)
	out = append(out, capFunctions...)
	for _, d := range capkind.All() {
		out = append(out, d.Funcs...)
	}
	return out
}

// Install adds the isle host module to k: every function Functions
// returns.
func Install(ctx context.Context, k *kernel.Kernel) error {
	b := k.Runtime().NewHostModuleBuilder(ModuleName)
	for _, f := range Functions() {
		b.NewFunctionBuilder().
			WithGoModuleFunction(f.Fn, f.Types(), f.Results()).
			WithName(f.Name).
			Export(f.Name)
	}
	return k.AddHostModule(ctx, b, ModuleName)
}

// Ctx is the context of one host call: the caller, its module and handle
// table, and the function's name for misuse reports.
type Ctx struct {
	P *kernel.Process
	// Module is the caller's module. Its memory is looked up only by a
	// call that reads or writes it: the lookup reads the instance, which a
	// turn that sends a bare tag would otherwise never touch (a cache miss
	// on every hop of a ring of 10,000).
	Module  MemoryHolder
	Handles *kernel.HandleTable
	Name    string
}

// MemoryHolder has a linear memory, or none (nil): an api.Module.
type MemoryHolder interface {
	Memory() api.Memory
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
	var m MemoryHolder = mod
	if !p.HasMemory() {
		m = noMemory{}
	}
	return Ctx{P: p, Module: m, Handles: p.Handles(), Name: name}
}

// noMemory is a module without a linear memory.
type noMemory struct{}

func (noMemory) Memory() api.Memory { return nil }

// Misuse abandons the caller with a reason naming the function.
func (c Ctx) Misuse(format string, args ...any) {
	panic(&fault.Abandon{Cause: isleapi.CauseMisuse, Detail: c.Name + ": " + fmt.Sprintf(format, args...)})
}

// Bytes returns the guest's memory at [ptr, ptr+n), or abandons.
func (c Ctx) Bytes(ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	mem := c.Module.Memory()
	if mem == nil {
		c.Misuse("the module has no memory")
	}
	b, ok := mem.Read(ptr, n)
	if !ok {
		c.Misuse("range [%#x, %#x+%d) is outside its %d-byte memory", ptr, ptr, n, mem.Size())
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
	cp, ok := c.Handles.Get(kernel.Handle(h))
	if !ok {
		c.Misuse("handle %d is not in the process's handle table", h)
	}
	return cp
}

// Cap returns the capability h names, abandoning if it is not in the table
// or not of the wanted kind.
func (c Ctx) Cap(h uint32, kind capkind.Kind) *kernel.Cap {
	cp := c.Lookup(h)
	if cp.Kind != kind {
		c.Misuse("handle %d is a %s handle, not a %s handle", h, cp.Kind, kind)
	}
	return cp
}

// Use resolves h to the object of a capability of kind that carries need.
// A missing right or a revoked handle is an expected failure (code != 0).
func (c Ctx) Use(h uint32, kind capkind.Kind, need isleapi.Rights) (any, int32) {
	cp := c.Cap(h, kind)
	if err := cp.Check(need); err != nil {
		return nil, c.Code(err)
	}
	return cp.Object, 0
}

// SetResult stores an ABI result.
func SetResult(stack []uint64, v int32) { stack[0] = uint64(uint32(v)) }

// Args reads a host call's parameters in the order the function declares
// them, so that a handler names each one once, at its top:
//
//	a := abi.ArgsOf(stack)
//	h, ptr, n := a.U32(), a.U32(), a.U32()
//
// (Go evaluates the calls of one assignment left to right.)
type Args struct {
	stack []uint64
	next  int
}

// ArgsOf starts reading stack's parameters.
func ArgsOf(stack []uint64) Args { return Args{stack: stack} }

// U32 reads an i32 parameter as unsigned: a handle, pointer, length, tag
// or flags.
func (a *Args) U32() uint32 {
	v := uint32(a.stack[a.next])
	a.next++
	return v
}

// I32 reads an i32 parameter as signed.
func (a *Args) I32() int32 { return int32(a.U32()) }

// I64 reads an i64 parameter: a timeout in nanoseconds.
func (a *Args) I64() int64 {
	v := int64(a.stack[a.next])
	a.next++
	return v
}
