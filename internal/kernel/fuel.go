package kernel

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/fault"
	"github.com/isle-run/isle/internal/fuel"
)

// The names the fuel rewriter injects; see internal/fuel.
const (
	fuelImportModule  = fuel.ImportModule
	fuelGlobalExport  = fuel.GlobalExport
	stackGlobalExport = fuel.StackGlobalExport
)

// fuelHostModule provides the imports that instrumented code calls: yield
// whenever its fuel counter drops below zero, stack when its stack budget
// does, and table_grow before each table.grow.
func (k *Kernel) fuelHostModule() wazero.HostModuleBuilder {
	i32 := []api.ValueType{api.ValueTypeI32}
	return k.rt.NewHostModuleBuilder(fuelImportModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(yield), nil, nil).
		WithName(fuel.ImportName).Export(fuel.ImportName).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(growStack), nil, nil).
		WithName(fuel.StackImportName).Export(fuel.StackImportName).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(tableGrow), i32, i32).
		WithName(fuel.TableGrowImportName).Export(fuel.TableGrowImportName)
}

// yield runs at the end of every fuel slice. It is where a spinning guest
// meets the rest of the node: it is charged, a kill takes effect, and, when
// Politeness says it is due, the Go scheduler gets a turn.
func yield(ctx context.Context, mod api.Module, _ []uint64) {
	p := processFrom(ctx)
	if p == nil {
		panic(&fault.Abandon{Cause: isleapi.CauseHostFault, Detail: "fuel yield outside a process"})
	}
	if p.fuel.counter == nil {
		// A start function runs before instantiate returns the instance;
		// find the counter from the caller, so it is metered too.
		if g, ok := mod.ExportedGlobal(fuelGlobalExport).(api.MutableGlobal); ok {
			p.fuel.counter = g
		}
	}
	if err := p.grantSlice(); err != nil {
		panic(err)
	}
	p.k.polite.Yield(&p.fuel.lastSched, time.Since(p.k.epoch))
	p.flush()
	p.maybeDetach()
	p.checkKilled()
	p.checkSpawner()
}

// checkSpawner ends a start function running inside its spawner's call
// once the spawner is killed.
func (p *Process) checkSpawner() {
	if !p.instantiating || p.parent == nil {
		return
	}
	select {
	case <-p.spawnerKill():
		panic(&fault.Kill{Reason: spawnerKilled})
	default:
	}
}

const spawnerKilled = "its spawner was killed while it started"

// spawnerKill is the spawner's kill channel while the process's start
// function runs inside its spawner's call, and nil, never ready, at any
// other time.
func (p *Process) spawnerKill() <-chan struct{} {
	if !p.instantiating || p.parent == nil {
		return nil
	}
	return p.parent.killCh.get()
}

// fuelState is a process's fuel accounting. Only whoever runs the process
// touches it; Stats reads the spent total from Process.spent.
type fuelState struct {
	counter api.MutableGlobal // the injected counter; nil if the module has none
	granted int64             // what the counter was last set to
	// debt is fuel to charge before the first slice: the init a process
	// started from an image did not run.
	debt int64
	// lastSched is when, since the kernel's epoch, yield last called
	// runtime.Gosched.
	lastSched time.Duration
}

// grantSlice charges what the counter used since the last grant and sets
// it to a fresh slice, drawn from the tree's budget. It fails when that
// budget is spent.
func (p *Process) grantSlice() error {
	f := &p.fuel
	if f.counter == nil {
		return nil
	}
	p.charge()
	if f.debt > 0 && !p.payDebt() {
		return p.fuelExhausted()
	}
	next, ok := p.group.takeFuel(p.k.fuelSlice)
	if !ok {
		return p.fuelExhausted()
	}
	f.counter.Set(uint64(next))
	f.granted = next
	return nil
}

// payDebt charges the fuel debt to the process and its tree, and reports
// whether the tree's budget held it.
func (p *Process) payDebt() bool {
	n := p.fuel.debt
	p.fuel.debt = 0
	got, ok := p.group.takeFuel(n)
	p.spent.Add(n)
	p.group.settleFuel(got, n)
	return ok && got == n
}

// ChargeWork charges units of fuel for work a host function does in
// proportion to what the guest asked of it (bytes moved, entries
// scanned), as the rewriter charges a bulk memory operation by its
// length: they come off the counter, so the guest's next check yields,
// where its tree's budget pays for them, a pending kill lands, and other
// goroutines get their turn. Before, a loop of host calls moving a
// megabyte each was charged only its own few instructions, and ran on a
// budget of 20M fuel until its timeout (found in review).
// A nil p (a host function's test) is charged nothing.
// Precondition: called by p's owner, in a host call.
func (p *Process) ChargeWork(units int64) {
	if units <= 0 || p == nil {
		return
	}
	if c := p.fuel.counter; c != nil {
		c.Set(uint64(int64(c.Get()) - units))
	}
}

// CheckFuel ends the current host call with the fuel-exhausted fault if
// the work charged to the counter (ChargeWork) has spent the slice and
// its tree's budget cannot grant another, as the guest's own next check
// would: a host call that does much work in one go calls it between
// pieces, so that it stops at the budget rather than after all of it.
// A nil p is charged nothing.
// Precondition: called by p's owner, in a host call.
func (p *Process) CheckFuel() {
	if p == nil {
		return
	}
	if c := p.fuel.counter; c == nil || int64(c.Get()) >= 0 {
		return
	}
	if err := p.grantSlice(); err != nil {
		panic(err)
	}
}

// ChargeBytes is ChargeWork for n bytes moved: see fuel.HostBytes.
// Precondition: as ChargeWork.
func (p *Process) ChargeBytes(n int) { p.ChargeWork(fuel.HostBytes(n)) }

// fuelExhausted is the fault of a process whose tree's budget is spent.
func (p *Process) fuelExhausted() error {
	who := "spent its budget of "
	if p.parent != nil || p.group.peakProcs.Load() > 1 {
		who = "its process tree spent its budget of "
	}
	return &fault.Abandon{Cause: isleapi.CauseFuelExhausted, Detail: who + formatCount(p.group.fuelLimit)}
}

// charge moves what the counter has used since the last grant into spent,
// and gives what is left of the grant back to the tree's budget.
func (p *Process) charge() {
	f := &p.fuel
	if f.counter == nil {
		return
	}
	left := int64(f.counter.Get())
	used := f.granted - left
	f.granted = 0
	f.counter.Set(0)
	p.unsettled.Store(0) // before spent grows: a reader may lag, never count twice
	p.spent.Add(used)
	p.group.settleFuel(used+left, used)
}

// noteFuel publishes what the process has used of its current slice, for
// tools (Info): a command's owner notes it before a wait, and Info itself
// for an idle reactor, whose counter nobody writes while it holds p.mu (a
// reactor's next owner takes p.mu to leave schedIdle). Noting it at the
// end of every run cost a ring of 10,000 reactors about a tenth of its
// time: the counter's wazero global is a cache miss of its own. Charging
// at a wait would cost a yield more per wait.
//
// Precondition: called by p's owner, or under p.mu with p an idle reactor.
func (p *Process) noteFuel() {
	if c := p.fuel.counter; c != nil {
		p.unsettled.Store(p.fuel.granted - int64(c.Get()))
	}
}
