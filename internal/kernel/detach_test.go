package kernel

import (
	"context"
	"runtime"
	"slices"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/testwasm"
	"github.com/isle-run/isle/internal/wasm"
)

// hostStepReactor is a reactor whose isle_handle calls the host's first,
// then, if spin, loops until its turn has detached, then calls then.
func hostStepReactor(t *testing.T, k *Kernel, name string, first, then func(p *Process), spin bool) *Module {
	t.Helper()
	b := k.Runtime().NewHostModuleBuilder(name).
		NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, _ []uint64) { first(ProcessFrom(ctx)) }), nil, nil).Export("first").
		NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, st []uint64) {
		st[0] = 0
		if ProcessFrom(ctx).detached {
			st[0] = 1
		}
	}), nil, []api.ValueType{api.ValueTypeI32}).Export("detached").
		NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, _ []uint64) { then(ProcessFrom(ctx)) }), nil, nil).Export("then")
	if err := k.AddHostModule(context.Background(), b, name); err != nil {
		t.Fatal(err)
	}
	// call first; block { loop { call detached; br_if 1; br 0 } }; call then
	body := []byte{0x00, 0x10, 0x00, 0x02, 0x40, 0x03, 0x40, 0x10, 0x01, 0x0d, 0x01, 0x0c, 0x00, 0x0b, 0x0b, 0x10, 0x02, 0x0b}
	if !spin {
		body = []byte{0x00, 0x10, 0x00, 0x10, 0x02, 0x0b} // call first; call then
	}
	return loadReactor(t, k, name, []wasm.FuncType{{}, {Results: []wasm.ValType{wasm.I32}}}, []wasm.Import{
		{Module: name, Name: "first", Kind: wasm.KindFunc, Func: 0},
		{Module: name, Name: "detached", Kind: wasm.KindFunc, Func: 1},
		{Module: name, Name: "then", Kind: wasm.KindFunc, Func: 0},
	}, body, nil)
}

// A turn that has detached (it ran long while its receiver waited in its
// worker's runnext) sends a burst, more than the receiver's mailbox holds,
// to a receiver that goes idle between messages: every message must be
// handled. A detached turn's worker goroutine is the turn itself, so a
// receiver it put in that worker's runnext would wait for the turn, which
// waits on the receiver's full mailbox (found in review).
func TestDetachedTurnsSendThroughTheGlobalQueue(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	rcv := spawn(t, k, recordingReactor(t, k), Spec{Mailbox: 8})
	const burst = 100
	sent := make(chan error, 1)
	mod := hostStepReactor(t, k, "detacher", func(p *Process) {
		if err := p.Send(rcv, NewMessage(1000, nil), false); err != nil {
			t.Error(err)
		}
	}, func(p *Process) {
		for i := range burst {
			if err := p.Send(rcv, NewMessage(uint32(i), nil), false); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}, true)
	hostSend(t, k, spawn(t, k, mod, Spec{}), 1)
	r.wait(t, "the receiver to handle the detached turn's burst", func(tags []uint32) bool { return len(tags) == burst+1 })
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// A reactor moved to its worker's local queue from inside a turn is
// stolen while that turn goes on in a long host call that does not block
// through the kernel: only a reactor put back at the end of a run waits
// stealDelay for a thief (found in review).
func TestLocalWorkFromATurnIsStolenDuringIt(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs a second worker to steal")
	}
	r := newRecorder()
	k := recordingKernel(t, r)
	rec := recordingReactor(t, k)
	r1, r2 := spawn(t, k, rec, Spec{}), spawn(t, k, rec, Spec{})
	stolen := make(chan bool, 1)
	mod := hostStepReactor(t, k, "sleeper", func(p *Process) {
		_ = p.Send(r1, NewMessage(1, nil), false) // r1 becomes runnext
		_ = p.Send(r2, NewMessage(2, nil), false) // r1 moves to the local queue
	}, func(p *Process) {
		// A long host call: it ends once r1 has run elsewhere, or at the
		// test's deadline.
		ctx := testwasm.Context(t)
		for {
			r.mu.Lock()
			ok, more := slices.Contains(r.tags, 1), r.more
			r.mu.Unlock()
			if ok {
				stolen <- true
				return
			}
			select {
			case <-more:
			case <-ctx.Done():
				stolen <- false
				return
			}
		}
	}, false)
	hostSend(t, k, spawn(t, k, mod, Spec{}), 1)
	select {
	case ok := <-stolen:
		if !ok {
			t.Fatal("a reactor queued on a worker whose turn was in a long host call never ran elsewhere")
		}
	case <-testwasm.Context(t).Done():
		t.Fatal("the reactor's turn never reached its host call")
	}
}
