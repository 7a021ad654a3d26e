package kernel

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
	"github.com/tetratelabs/wazero/api"
)

// congestionFixture is a scheduler with worker w, a receiver r whose
// mailbox of 4 holds n messages, and a sender p whose run on w has just
// ended with work queued for it, after it fed r.
func congestionFixture(n int) (s *scheduler, w *worker, r, p *Process) {
	s = &scheduler{maxActive: 1}
	w = &worker{s: s, wake: make(chan struct{}, 1)}
	s.workers = []*worker{w}
	s.all.Store(&s.workers)
	k := &Kernel{sched: s}
	r = &Process{k: k, reactor: true}
	r.mbox.limit, r.mbox.sched = 4, schedRunning
	for range n {
		r.mbox.q = append(r.mbox.q, &Message{})
	}
	p = &Process{k: k, reactor: true}
	p.mbox.sched = schedQueued
	w.fed = r
	return s, w, r, p
}

// A sender whose run fed a receiver more than half full waits for it in
// no queue, and the receiver, once drained, queues it on its own worker.
func TestSenderWaitsForACongestedReceiver(t *testing.T) {
	s, w, r, p := congestionFixture(3)
	if !p.parkBehind(w) {
		t.Fatal("a sender that fed a receiver 3/4 full was queued, not parked")
	}
	if p.mbox.sched != schedParked || w.nlocal.Load() != 0 || s.parking.n.Load() != 1 {
		t.Fatalf("parked sender: state %d, %d queued locally, %d parked; want parked, 0, 1", p.mbox.sched, w.nlocal.Load(), s.parking.n.Load())
	}
	if st := p.stateLocked(); st != StateQueued {
		t.Fatalf("a parked sender reports %v, want %v", st, StateQueued)
	}
	r.mbox.q = r.mbox.q[:1] // r drains below half
	s.release(r, w)
	if p.mbox.sched != schedQueued || w.popLocal() != p || s.parking.n.Load() != 0 {
		t.Fatal("the drained receiver did not queue its parked sender on its worker")
	}
}

// Nobody waits for a receiver that is not congested, will not run, or
// waits itself.
func TestSenderDoesNotWaitWhereNothingDrains(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(r *Process)
	}{
		{"half full", func(r *Process) { r.mbox.q = r.mbox.q[:2] }},
		{"receiver waiting in a receive", func(r *Process) { r.mbox.waiting = true }},
		{"receiver's turn waiting (a call, room)", func(r *Process) { r.mbox.sched = schedBlocked }},
		{"receiver closed", func(r *Process) { r.mbox.closed = true }},
		{"receiver idle", func(r *Process) { r.mbox.sched = schedIdle }},
		{"receiver a command", func(r *Process) { r.reactor = false }},
		{"receiver parked itself", func(r *Process) { r.mbox.sched = schedParked }},
	} {
		s, w, r, p := congestionFixture(3)
		c.set(r)
		if p.parkBehind(w) || p.mbox.sched != schedQueued || s.parking.n.Load() != 0 {
			t.Errorf("%s: the sender was parked", c.name)
		}
	}
	// A send that asked not to wait does not count.
	_, w, r, p := congestionFixture(3)
	w.fed = nil
	w.noteFed(p, r, sendNonBlock)
	if w.fed != nil || p.parkBehind(w) {
		t.Error("a non-blocking send made its sender park")
	}
	// A run that fed nobody queues its reactor as before.
	_, w, _, p = congestionFixture(3)
	w.fed = nil
	if p.parkBehind(w) {
		t.Error("a run that fed nobody parked its reactor")
	}
}

// A kill unparks its reactor at once, whatever the receiver does, and the
// receiver's later release does not queue it a second time.
func TestKillUnparksASender(t *testing.T) {
	s, w, r, p := congestionFixture(4)
	if !p.parkBehind(w) {
		t.Fatal("not parked")
	}
	p.landKill()
	if p.mbox.sched != schedQueued || s.nglobal.Load() != 1 || s.parking.n.Load() != 0 {
		t.Fatalf("after the kill: state %d, %d in the global queue, %d parked; want queued, 1, 0", p.mbox.sched, s.nglobal.Load(), s.parking.n.Load())
	}
	s.release(r, w)
	if w.nlocal.Load() != 0 || s.nglobal.Load() != 1 || s.parking.n.Load() != 0 {
		t.Fatal("the receiver's release queued a sender the kill had already queued")
	}
}

// An idle worker queues a reactor parked on a receiver that is no longer
// congested, should the receiver's release have missed it; it leaves one
// parked on a receiver still congested.
func TestIdleWorkerReleasesWhatARunMissed(t *testing.T) {
	s, w, r, p := congestionFixture(3)
	if !p.parkBehind(w) {
		t.Fatal("not parked")
	}
	if s.releaseStale(w) || p.mbox.sched != schedParked {
		t.Fatal("an idle worker released a sender whose receiver is still congested")
	}
	r.mbox.q = r.mbox.q[:0]
	if !s.releaseStale(w) || p.mbox.sched != schedQueued || w.popLocal() != p {
		t.Fatal("an idle worker left a sender parked on a drained receiver")
	}
}

// feedingPair is a sender s and a receiver r (mailbox of 8) of a reactor
// that, in s, sends 5 messages to r per turn and then, until it has had
// rounds turns, one to itself to carry on; r only takes its messages.
// turns counts s's turns.
func feedingPair(t *testing.T, rounds int32) (k *Kernel, s, r *Process, turns *atomic.Int32) {
	const (
		tagData = 2
		tagMore = 3
	)
	var sp, rp atomic.Pointer[Process]
	turns = new(atomic.Int32)
	act := func(ctx context.Context, stack []uint64) {
		p := ProcessFrom(ctx)
		if p != sp.Load() || uint32(stack[0]) == TagInit {
			return
		}
		for range 5 {
			if err := p.Send(rp.Load(), NewMessage(tagData, nil), false); err != nil {
				panic(err)
			}
		}
		if turns.Add(1) < rounds {
			if err := p.Send(p, NewMessage(tagMore, nil), false); err != nil {
				panic(err)
			}
		}
	}
	k = newKernel(t)
	hb := k.Runtime().NewHostModuleBuilder("test").NewFunctionBuilder().
		WithGoFunction(api.GoFunc(act), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, nil).Export("act")
	if err := k.AddHostModule(context.Background(), hb, "test"); err != nil {
		t.Fatal(err)
	}
	mod := actingReactor(t, k)
	r = spawn(t, k, mod, Spec{Mailbox: 8})
	rp.Store(r)
	s = spawn(t, k, mod, Spec{})
	sp.Store(s)
	return k, s, r, turns
}

// parkedNow reports whether p is parked behind a receiver.
func parkedNow(p *Process) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mbox.sched == schedParked
}

// A reactor whose turn left its receiver's mailbox more than half full
// waits, parked, while the receiver does not run, and goes on once the
// receiver has drained; every message arrives.
func TestSenderParksUntilItsReceiverDrains(t *testing.T) {
	k, s, r, turns := feedingPair(t, 3)
	release := hold(t, k, r) // r runs nothing until released
	hostSend(t, k, s, 1)
	testwasm.WaitFor(t, "the sender to park behind its full receiver", func() bool { return parkedNow(s) })
	if n := turns.Load(); n != 1 {
		t.Fatalf("the sender had %d turns while its receiver was congested; want 1", n)
	}
	release()
	testwasm.WaitFor(t, "the sender's last turn once its receiver drained", func() bool { return turns.Load() == 3 })
	testwasm.WaitFor(t, "the receiver to take all 15 messages", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.mbox.taken == 15 && r.mbox.sched == schedIdle
	})
}

// A kill ends a parked reactor at once, though its receiver never drains.
func TestKillEndsAParkedSender(t *testing.T) {
	k, s, r, _ := feedingPair(t, 100)
	release := hold(t, k, r)
	defer release()
	hostSend(t, k, s, 1)
	testwasm.WaitFor(t, "the sender to park behind its full receiver", func() bool { return parkedNow(s) })
	s.Kill("killed while parked")
	if e := waitExit(t, s); e.Kind != isleapi.ExitKilled {
		t.Fatalf("the parked sender ended %v; want killed", e)
	}
}

// actors is a kernel whose acting reactors each run the Go function set
// gives them, for every message but the init message.
func actors(t *testing.T) (k *Kernel, mod *Module, set func(p *Process, f func(p *Process, tag uint32))) {
	t.Helper()
	var mu sync.Mutex
	acts := map[*Process]func(p *Process, tag uint32){}
	act := func(ctx context.Context, stack []uint64) {
		p := ProcessFrom(ctx)
		mu.Lock()
		f := acts[p]
		mu.Unlock()
		if f != nil && uint32(stack[0]) != TagInit {
			f(p, uint32(stack[0]))
		}
	}
	k = newKernel(t)
	hb := k.Runtime().NewHostModuleBuilder("test").NewFunctionBuilder().
		WithGoFunction(api.GoFunc(act), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, nil).Export("act")
	if err := k.AddHostModule(context.Background(), hb, "test"); err != nil {
		t.Fatal(err)
	}
	return k, actingReactor(t, k), func(p *Process, f func(p *Process, tag uint32)) {
		mu.Lock()
		acts[p] = f
		mu.Unlock()
	}
}

// A receiver whose turn waits in a host call (Blocking: a WASI sleep,
// stdio, HTTP, KV) lets the senders parked on it go, and nobody parks
// behind it while it waits: here it waits for the very sender that fed
// it. (A review's reproducer: it deadlocked before Blocking marked it.)
func TestBlockingReceiverLetsItsSendersGo(t *testing.T) {
	const (
		tagData  = 2
		tagMore  = 3
		tagBlock = 4
	)
	k, mod, set := actors(t)
	r, s := spawn(t, k, mod, Spec{Mailbox: 8}), spawn(t, k, mod, Spec{})
	gate := make(chan struct{})
	var turns atomic.Int32
	set(r, func(p *Process, tag uint32) {
		if tag == tagBlock {
			p.Blocking(func() {
				select {
				case <-gate: // s's second turn opens it
				case <-p.KillContext().Done():
				}
			})
		}
	})
	set(s, func(p *Process, tag uint32) {
		if turns.Add(1) == 2 {
			close(gate)
			return
		}
		for range 5 {
			if err := p.Send(r, NewMessage(tagData, nil), false); err != nil {
				panic(err)
			}
		}
		if err := p.Send(p, NewMessage(tagMore, nil), false); err != nil {
			panic(err)
		}
	})
	release := hold(t, k, r)
	hostSend(t, k, r, tagBlock)
	hostSend(t, k, s, tagMore) // s feeds r to 6 of 8, and parks
	testwasm.WaitFor(t, "the sender to park behind its full receiver", func() bool { return parkedNow(s) })
	release() // r takes its batch and waits, in Blocking, for s
	testwasm.WaitFor(t, "the sender's second turn, which ends the receiver's wait", func() bool { return turns.Load() >= 2 })
}

// Two reactors that flood each other finish: nobody parks behind a
// parked reactor, so parking makes no cycle, and a sender that asked not
// to wait (the echo) is never parked. (A review's reproducer: before,
// both ended parked on each other for ever.)
func TestFloodingEachOtherFinishes(t *testing.T) {
	const (
		tagData = 2
		tagMore = 3
		rounds  = 30
	)
	for _, per := range []int{50, 200, 400} {
		k, mod, set := actors(t)
		a, b := spawn(t, k, mod, Spec{Mailbox: 256}), spawn(t, k, mod, Spec{Mailbox: 256})
		var got, echoed, dropped atomic.Int64
		var turns atomic.Int32
		pending := false // a's next flood, when its own mailbox had no room for the reminder
		flood := func(p *Process) {
			for range per {
				if err := p.Send(b, NewMessage(tagData, nil), false); err != nil {
					panic(err)
				}
			}
			if turns.Add(1) < rounds && p.Send(p, NewMessage(tagMore, nil), true) != nil {
				pending = true
			}
		}
		set(a, func(p *Process, tag uint32) {
			switch {
			case tag == tagMore:
				flood(p)
			case tag == tagData:
				echoed.Add(1)
				if pending {
					pending = false
					flood(p)
				}
			}
		})
		set(b, func(p *Process, tag uint32) {
			if tag == tagData {
				got.Add(1)
				if p.Send(a, NewMessage(tagData, nil), true) != nil {
					dropped.Add(1)
				}
			}
		})
		hostSend(t, k, a, tagMore)
		want := int64(per * rounds)
		testwasm.WaitFor(t, fmt.Sprintf("every message of %d floods of %d, and its echo or drop", rounds, per), func() bool {
			return got.Load() == want && echoed.Load()+dropped.Load() == want
		})
	}
}
