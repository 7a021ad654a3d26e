package kernel

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/isle-run/isle/internal/testwasm"
	"github.com/isle-run/isle/internal/wasm"
)

// holdsSlot reports whether p holds a dispatch slot (so an instance), and whether it is
// idle, as a sweep would see it.
func (p *Process) holdsSlot() (held, idle bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.slot != 0, p.mbox.sched == schedIdle && p.mbox.len() == 0
}

// waitIdle waits until p has finished its turns.
func waitIdle(t *testing.T, p *Process) {
	t.Helper()
	ctx := testwasm.Context(t)
	for {
		if _, idle := p.holdsSlot(); idle {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("process %d never went idle", p.ID)
		default:
			runtime.Gosched()
		}
	}
}

// A reactor keeps its instance and slot through the sweep that follows a turn, gives
// it back at the next one if it had no turn in between, and makes a new
// one when a message comes.
func TestIdleReactorGivesItsSlotBack(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	k := recordingKernel(t, r)
	k.sweeper.period = time.Hour // only this test sweeps
	p := spawn(t, k, recordingReactor(t, k), Spec{})
	if held, _ := p.holdsSlot(); held {
		t.Fatal("a reactor that never had a message holds a dispatch slot")
	}
	for round := uint32(1); round <= 2; round++ {
		hostSend(t, k, p, round)
		r.wait(t, "the message", func(tags []uint32) bool { return len(tags) == int(round) })
		waitIdle(t, p)
		if held, _ := p.holdsSlot(); !held {
			t.Fatalf("round %d: no dispatch slot after a turn", round)
		}
		k.sweeper.sweep()
		if held, _ := p.holdsSlot(); !held {
			t.Fatalf("round %d: the sweep right after a turn took its slot", round)
		}
		k.sweeper.sweep()
		if held, _ := p.holdsSlot(); held {
			t.Fatalf("round %d: an idle reactor kept its slot through a sweep with no turn", round)
		}
	}
	k.sweeper.mu.Lock()
	n := len(k.sweeper.held)
	k.sweeper.mu.Unlock()
	if n != 0 {
		t.Fatalf("the sweeper still lists %d processes, want none", n)
	}
}

// The sweeps run on their own while any reactor is listed, and a
// process that ended leaves the list.
func TestSweepsRunOnTheirOwn(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	k := recordingKernel(t, r)
	k.sweeper.period = 1 // as often as the timer can
	m := recordingReactor(t, k)
	idle := spawn(t, k, m, Spec{})
	ended := spawn(t, k, m, Spec{})
	hostSend(t, k, idle, 1)
	hostSend(t, k, ended, 2)
	r.wait(t, "both messages", func(tags []uint32) bool { return len(tags) == 2 })
	ended.Kill("test")
	waitExit(t, ended)
	ctx := testwasm.Context(t)
	for {
		k.sweeper.mu.Lock()
		n := len(k.sweeper.held)
		k.sweeper.mu.Unlock()
		held, _ := idle.holdsSlot()
		if n == 0 && !held {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for the sweeps: %d listed, idle reactor holds its slot: %v", n, held)
		default:
			runtime.Gosched()
		}
	}
}

// Sweeps as often as the timer allows, while many reactors take turns,
// lose every message and race nothing (run under -race): a sweep only
// touches a reactor that is idle, under its lock.
func TestSweepsBesideTurns(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	k.sweeper.period = 1
	mod := recordingReactor(t, k)
	const reactors, senders, each = 16, 4, 300
	ps := make([]*Process, reactors)
	for i := range ps {
		ps[i] = spawn(t, k, mod, Spec{})
	}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				hostSend(t, k, ps[(s*each+i)%reactors], uint32(s))
				if i%16 == 0 {
					k.sweeper.sweep() // and from here, beside the timer's
				}
			}
		}()
	}
	wg.Wait()
	r.wait(t, "every message handled", func(tags []uint32) bool { return len(tags) == senders*each })
}

// listed counts p's entries in the sweeper's list.
func (s *idleSweeper) listed(p *Process) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, q := range s.held {
		if q == p {
			n++
		}
	}
	return n
}

// A reactor whose module's wake code is still compiling when a sweep
// would put it to sleep keeps its instance, and is listed once: a second
// entry, added by its next turn, would put it to sleep in the first
// sweep after that turn, not one to two periods later.
func TestSleepPutOffKeepsTheEngineListedOnce(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	k := recordingKernel(t, r)
	k.sweeper.period = time.Hour // only this test sweeps
	m := recordingReactorWith(t, k, "dataful recorder", []wasm.Data{{Offset: wasm.Expr{0x41, 0x10, 0x0b}, Init: []byte("isle")}})
	p := spawn(t, k, m, Spec{})
	hostSend(t, k, p, 1)
	r.wait(t, "the first message", func(tags []uint32) bool { return len(tags) == 1 })
	waitIdle(t, p)
	k.sweeper.sweep() // it had a turn: kept
	k.sweeper.sweep() // idle a whole period: its wake code starts compiling
	if held, _ := p.holdsSlot(); !held {
		t.Fatal("a reactor that could not sleep yet gave its instance back")
	}
	hostSend(t, k, p, 2)
	r.wait(t, "the second message", func(tags []uint32) bool { return len(tags) == 2 })
	waitIdle(t, p)
	if n := k.sweeper.listed(p); n != 1 {
		t.Fatalf("the sweeper lists the reactor %d times, want once", n)
	}
}
