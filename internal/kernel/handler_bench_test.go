package kernel

import (
	"context"
	"testing"

	"github.com/isle-run/isle/internal/wasm"
)

// nopReactor is a reactor whose isle_handle returns at once.
func nopReactor(b *testing.B, k *Kernel) *Module {
	b.Helper()
	m := &wasm.Module{}
	m.Put(wasm.SectionType, wasm.EncodeTypes([]wasm.FuncType{
		{Params: []wasm.ValType{wasm.I32, wasm.I32, wasm.I32, wasm.I32}},
	}))
	m.Put(wasm.SectionFunction, wasm.EncodeIndices([]uint32{0}))
	m.Put(wasm.SectionMemory, wasm.EncodeMemories([]wasm.Limits{{Min: 1}}))
	m.Put(wasm.SectionExport, wasm.EncodeExports([]wasm.Export{
		{Name: "memory", Kind: wasm.KindMemory, Index: 0},
		{Name: handlerExport, Kind: wasm.KindFunc, Index: 0},
	}))
	m.Put(wasm.SectionCode, wasm.EncodeCode([]wasm.Code{{Body: []byte{0x00, 0x0b}}}))
	mod, err := k.Load(context.Background(), "nop", m.Encode())
	if err != nil {
		b.Fatal(err)
	}
	return mod
}

// BenchmarkHandlerEngine times a call of a reactor's handler three ways:
// through an api.Function the reactor keeps, as it did before the
// dispatcher; through one made for the call, as a reactor that kept none
// would have to without it; and through the dispatcher (dispatch.go).
func BenchmarkHandlerEngine(b *testing.B) {
	ctx := context.Background()
	k, err := New(ctx, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close(ctx)
	p, err := k.Spawn(ctx, nopReactor(b, k), Spec{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill("benchmark over")
	args := make([]uint64, 4)
	b.Run("kept", func(b *testing.B) {
		f := p.inst.ExportedFunction(handlerExport)
		b.ReportAllocs()
		for range b.N {
			if err := f.CallWithStack(p.callCtx(), args); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("dispatched", func(b *testing.B) {
		slot, err := k.dispatch.bind(p.inst)
		if err != nil {
			b.Fatal(err)
		}
		defer k.dispatch.unbind(slot)
		var w worker
		args := []uint64{k.dispatch.indexOf(slot), 0, 0, 0, 0}
		b.ReportAllocs()
		for range b.N {
			if err := w.dispatchFunc(&k.dispatch, slot).CallWithStack(p.callCtx(), args); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("per-call", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if err := p.inst.ExportedFunction(handlerExport).CallWithStack(p.callCtx(), args); err != nil {
				b.Fatal(err)
			}
		}
	})
}
