package fuel

import (
	"context"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// hostStack is a host stack import that grants StackChunk at a time
// until the budget is not negative, and counts its calls and grants.
type hostStack struct {
	calls, granted atomic.Int64
	limit          int64 // panic with errStackLimit past this many bytes granted; 0 means never
}

func (s *hostStack) stack(_ context.Context, mod api.Module) {
	s.calls.Add(1)
	g := mod.ExportedGlobal(StackGlobalExport).(api.MutableGlobal)
	for int32(g.Get()) < 0 {
		if s.limit > 0 && s.granted.Load()+StackChunk > s.limit {
			panic(errStackLimit)
		}
		s.granted.Add(StackChunk)
		g.Set(uint64(uint32(int32(g.Get()) + StackChunk)))
	}
}

// stackBudget reads an instance's stack budget.
func stackBudget(mod api.Module) int32 {
	return int32(mod.ExportedGlobal(StackGlobalExport).Get())
}

// hostTableGrow is a host table_grow import that allows grows up to a
// number of entries in all, and records what it was asked.
type hostTableGrow struct {
	allowed atomic.Int64 // entries still allowed
	asked   atomic.Int64 // entries asked for in all
	calls   atomic.Int64
}

func (h *hostTableGrow) tableGrow(_ context.Context, n uint32) uint32 {
	h.calls.Add(1)
	h.asked.Add(int64(n))
	if h.allowed.Add(-int64(n)) < 0 {
		h.allowed.Add(int64(n))
		return 0
	}
	return 1
}

type errString string

func (e errString) Error() string { return string(e) }

const errStackLimit = errString("stack limit")

// withStubs adds the stack and table_grow imports to a host module
// builder: a stack that grows without limit and grows that always succeed.
// The tests that look at these imports build their own.
func withStubs(b wazero.HostModuleBuilder) wazero.HostModuleBuilder {
	s := &hostStack{}
	tg := &hostTableGrow{}
	tg.allowed.Store(1 << 62)
	return withHosts(b, s, tg)
}

func withHosts(b wazero.HostModuleBuilder, s *hostStack, tg *hostTableGrow) wazero.HostModuleBuilder {
	return b.NewFunctionBuilder().WithFunc(s.stack).Export(StackImportName).
		NewFunctionBuilder().WithFunc(tg.tableGrow).Export(TableGrowImportName)
}
