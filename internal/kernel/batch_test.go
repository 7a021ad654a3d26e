package kernel

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/testwasm"
	"github.com/isle-run/isle/internal/wasm"
)

// hold stops p's turns from being scheduled, so that the test can act as
// its owner; the returned func lets it run again.
func hold(t *testing.T, k *Kernel, p *Process) func() {
	t.Helper()
	p.mu.Lock()
	if p.mbox.sched != schedIdle {
		p.mu.Unlock()
		t.Fatal("the process is not idle")
	}
	p.mbox.sched = schedRunning
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		p.mbox.sched = schedQueued
		p.mu.Unlock()
		k.sched.ready(p, nil)
	}
}

// A run's batch still counts against the mailbox's bound until it is
// committed; the room its handled messages free reaches waiting senders
// in batches while the reactor drains, and at once when it stops.
func TestMailboxBatchKeepsTheBound(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	mod := recordingReactor(t, k)
	p := spawn(t, k, mod, Spec{Mailbox: 16})
	release := hold(t, k, p)
	defer release()
	for tag := range uint32(16) {
		hostSend(t, k, p, tag+1)
	}
	full := func() bool {
		err := k.HostSend(context.Background(), p, NewMessage(99, nil), true)
		if err != nil && !errors.Is(err, ErrFull) {
			t.Fatalf("non-blocking send: %v", err)
		}
		return err != nil
	}
	b := &batch{}
	p.mu.Lock()
	p.mbox.hand = b
	p.fill(b)
	p.mu.Unlock()
	if b.n != 16 || !full() {
		t.Fatalf("took %d messages; the mailbox must still be full (it is not: %v)", b.n, !full())
	}
	// A sender waits for room: two handled messages are committed while
	// the reactor drains, and it is not woken for them.
	p.mu.Lock()
	space := make(chan struct{})
	p.mbox.space = space
	p.mu.Unlock()
	for range 2 {
		b.next().recycle()
	}
	p.mu.Lock()
	p.commit(false)
	n, woken := p.mbox.len(), p.mbox.space == nil
	p.mu.Unlock()
	if n != 14 || woken {
		t.Fatalf("after two handled: %d queued, waiter woken %v; want 14, not woken", n, woken)
	}
	// Once the reactor stops (here: it is about to wait), it is.
	b.next().recycle()
	p.flush()
	select {
	case <-space:
	default:
		t.Fatal("a stopping reactor left its senders waiting for room")
	}
	if full() {
		t.Fatal("no room after three handled messages")
	}
	// The process ends while handling the fourth: that one counts as
	// taken, and the rest of the batch goes back, in order, ahead of what
	// came after.
	b.next().recycle()
	p.mu.Lock()
	rest := p.mbox.drain()
	taken := p.mbox.taken
	p.mu.Unlock()
	if taken != 4 {
		t.Fatalf("%d messages counted as taken; want 4", taken)
	}
	var tags []uint32
	for _, m := range rest {
		tags = append(tags, m.Tag)
	}
	if want := []uint32{5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 99}; !equalTags(tags, want) {
		t.Fatalf("drained %v, want %v", tags, want)
	}
	if p.mbox.hand != nil || b.n != 0 {
		t.Fatal("the drained batch is still in hand")
	}
}

func equalTags(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A reactor that took its mailbox's messages in one batch, and waits in
// its first turn for the sender still blocked on that mailbox, frees the
// room for it first: otherwise each would wait for the other for ever.
func TestMailboxRoomReachesASenderTheReceiverWaitsOn(t *testing.T) {
	const (
		tagGo   = 1
		tagData = 2
		tagPing = 3
	)
	var s, r atomic.Pointer[Process]
	var first atomic.Bool
	result := make(chan error, 1)
	act := func(ctx context.Context, stack []uint64) {
		p, tag, aux := ProcessFrom(ctx), uint32(stack[0]), Handle(stack[1])
		switch {
		case p == s.Load() && tag == tagGo:
			for range 5 { // one more than the receiver's mailbox holds
				if err := p.Send(r.Load(), NewMessage(tagData, nil), false); err != nil {
					panic(err)
				}
			}
		case p == s.Load() && tag == tagPing:
			if err := p.Reply(aux, NewMessage(tagPing, nil)); err != nil {
				panic(err)
			}
		case p == r.Load() && tag == tagData && !first.Swap(true):
			_, _, err := p.Call(s.Load(), NewMessage(tagPing, nil), -1)
			result <- err
		}
	}
	k := newKernel(t)
	hb := k.Runtime().NewHostModuleBuilder("test").NewFunctionBuilder().
		WithGoFunction(api.GoFunc(act), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, nil).Export("act")
	if err := k.AddHostModule(context.Background(), hb, "test"); err != nil {
		t.Fatal(err)
	}
	mod := actingReactor(t, k)
	r.Store(spawn(t, k, mod, Spec{Mailbox: 4}))
	s.Store(spawn(t, k, mod, Spec{}))
	release := hold(t, k, r.Load())
	hostSend(t, k, s.Load(), tagGo)
	testwasm.WaitFor(t, "the sender to wait for room", func() bool {
		p := r.Load()
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.mbox.len() == 4 && p.mbox.space != nil
	})
	release()
	if err := testwasm.Await(t, result, "the receiver's call to the sender"); err != nil {
		t.Fatalf("the call: %v", err)
	}
}

// actingReactor is a reactor that calls test.act(tag, aux) for every
// message.
func actingReactor(t *testing.T, k *Kernel) *Module {
	t.Helper()
	// local.get 1 (the tag); local.get 2 (aux); call 0 (test.act); end
	body := []byte{0x00, 0x20, 0x01, 0x20, 0x02, 0x10, 0x00, 0x0b}
	return loadReactor(t, k, "actor", []wasm.FuncType{{Params: []wasm.ValType{wasm.I32, wasm.I32}}},
		[]wasm.Import{{Module: "test", Name: "act", Kind: wasm.KindFunc, Func: 0}}, body, nil)
}

// A run goes on to another batch only while messages are queued, and,
// when other reactors wait for its worker, only within its slice; a run
// that made another reactor its worker's runnext yields to it at once.
func TestMailboxRunGoesOnWithinItsSlice(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	mod := recordingReactor(t, k)
	p, other := spawn(t, k, mod, Spec{}), spawn(t, k, mod, Spec{})
	release := hold(t, k, p)
	defer release()
	w := &worker{s: k.sched}
	var until time.Duration
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.more(w, nil, &until) {
		t.Fatal("a run with nothing queued goes on")
	}
	p.mbox.append(NewMessage(1, nil))
	if !p.more(w, nil, &until) || until != 0 {
		t.Fatal("a run nobody waits for stops, or starts its slice")
	}
	w.runnext = other
	if p.more(w, nil, &until) {
		t.Fatal("a run that fed another reactor goes on instead of yielding to it")
	}
	if !p.more(w, other, &until) || until == 0 {
		t.Fatal("a run others wait for stops before its slice is over, or has no slice")
	}
	until = time.Since(k.epoch) - time.Nanosecond
	if p.more(w, other, &until) {
		t.Fatal("a run others wait for goes on past its slice")
	}
}
