package kernel

import (
	"context"
	"runtime"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/fault"
)

// The names the fuel rewriter injects; see internal/fuel.
const (
	fuelImportModule = "isle:fuel"
	fuelImportName   = "yield"
	fuelGlobalExport = "isle:fuel"
)

// fuelHostModule provides the yield import that instrumented code calls
// whenever its fuel counter drops below zero.
func (k *Kernel) fuelHostModule() wazero.HostModuleBuilder {
	return k.rt.NewHostModuleBuilder(fuelImportModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(yield), nil, nil).
		WithName(fuelImportName).
		Export(fuelImportName)
}

// yield runs at the end of every fuel slice. It is where a spinning guest
// meets the rest of the node: it is charged, the Go scheduler gets a turn
// (and with it any pending stop-the-world), and a kill takes effect.
func yield(ctx context.Context, mod api.Module, _ []uint64) {
	p := processFrom(ctx)
	if p == nil {
		panic(&fault.Abandon{Cause: isleapi.CauseHostFault, Detail: "fuel yield outside a process"})
	}
	p.refuel(mod)
	runtime.Gosched()
	p.checkKilled()
}

// fuelState is a process's fuel accounting. Only the goroutine running the
// process touches it, except spent, which Stats reads.
type fuelState struct {
	counter api.MutableGlobal // the injected counter; nil until first yield
	granted int64             // what the counter was last set to
	budget  int64             // fuel still allowed; <0 means unlimited
	slice   int64
}

// refuel charges what the last slice used and grants the next one.
func (p *Process) refuel(mod api.Module) {
	f := &p.fuel
	if f.counter == nil {
		g, ok := mod.ExportedGlobal(fuelGlobalExport).(api.MutableGlobal)
		if !ok {
			panic(&fault.Abandon{Cause: isleapi.CauseHostFault, Detail: "fuel counter missing"})
		}
		f.counter = g
	}
	p.charge()
	next := f.slice
	if f.budget >= 0 {
		if f.budget == 0 {
			panic(&fault.Abandon{Cause: isleapi.CauseFuelExhausted,
				Detail: "spent its budget of " + formatCount(p.spec.Fuel)})
		}
		next = min(next, f.budget)
	}
	f.counter.Set(uint64(next))
	f.granted = next
}

// charge moves what the counter has used since the last grant into spent.
func (p *Process) charge() {
	f := &p.fuel
	if f.counter == nil {
		return
	}
	used := f.granted - int64(f.counter.Get())
	f.granted = int64(f.counter.Get())
	p.spent.Add(used)
	if f.budget >= 0 {
		f.budget = max(f.budget-used, 0)
	}
}
