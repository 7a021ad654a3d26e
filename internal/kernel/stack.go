package kernel

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/fault"
	"github.com/isle-run/isle/internal/fuel"
)

// A process's call stack is charged to its memory account as it grows:
// the rewriter keeps a budget of estimated frame bytes in the isle:stack
// global and calls growStack when it runs out. The estimate is at least
// wazero's real frame size (internal/fuel measures it), so the real stack
// is bounded by what was charged. What was charged stays charged, as
// wazero never shrinks a stack it grew.

// MaxStack bounds one process's estimated call stack, whatever its tree's
// memory limit: deeper recursion is abandoned with "stack exhausted". That
// is 200,000 frames of a small function, or 40,000 of a median Go one;
// well below wazero's own ceiling of about 400 MB, and far from wrapping
// the i32 budget.
const MaxStack = 64 << 20

// tableGrowBytes is what a grown table element costs: wazero appends to a
// slice, so a table holds up to twice its length in capacity, plus the old
// copy until the garbage collector frees it.
const tableGrowBytes = 3 * tableElemBytes

// stackState is the owner's record of the stack budget.
type stackState struct {
	global  api.MutableGlobal // the injected budget; nil until first needed
	granted int64             // estimated bytes granted beyond fuel.StackInitial
}

// growStack is the isle:fuel.stack import: the guest's stack budget went
// negative. Grant whole chunks until it is not, charging each, or abandon
// the guest when its limit or its tree's memory is reached.
func growStack(ctx context.Context, mod api.Module, _ []uint64) {
	p := processFrom(ctx)
	if p == nil {
		panic(&fault.Abandon{Cause: isleapi.CauseHostFault, Detail: "stack growth outside a process"})
	}
	st := &p.callStack
	if st.global == nil {
		// A start function runs before the instance is returned; find the
		// global from the caller.
		g, ok := mod.ExportedGlobal(stackGlobalExport).(api.MutableGlobal)
		if !ok {
			panic(&fault.Abandon{Cause: isleapi.CauseHostFault, Detail: "no stack budget in the module"})
		}
		st.global = g
	}
	budget := int64(int32(uint32(st.global.Get())))
	for budget < 0 {
		if st.granted+fuel.StackChunk > MaxStack-fuel.StackInitial {
			panic(&fault.Abandon{Cause: isleapi.CauseStackExhausted,
				Detail: fmt.Sprintf("the call stack passed its limit of %d MiB", MaxStack>>20)})
		}
		if full := p.chargeMem(fuel.StackChunk); full != nil {
			panic(&fault.Abandon{Cause: isleapi.CauseStackExhausted,
				Detail: "the call stack cannot grow: " + full.describeFull(fuel.StackChunk)})
		}
		st.granted += fuel.StackChunk
		budget += fuel.StackChunk
	}
	st.global.Set(uint64(uint32(int32(budget))))
	p.checkKilled()
}

// tableGrow is the isle:fuel.table_grow import: the guest is about to grow
// a table by n entries. It may if its tree can hold them.
func tableGrow(ctx context.Context, _ api.Module, stack []uint64) {
	p := processFrom(ctx)
	if p == nil {
		panic(&fault.Abandon{Cause: isleapi.CauseHostFault, Detail: "table growth outside a process"})
	}
	n := int64(uint32(stack[0]))
	if p.chargeMem(n*tableGrowBytes) != nil {
		stack[0] = 0
		return
	}
	stack[0] = 1
}
