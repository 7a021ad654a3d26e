package kernel

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/isle-run/isle/internal/testwasm"
	"github.com/isle-run/isle/internal/wasm"
)

// holdsEngine reports whether p keeps its call engine, and whether it is
// idle, as a sweep would see it.
func (p *Process) holdsEngine() (held, idle bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.slot != 0, p.mbox.sched == schedIdle && p.mbox.len() == 0
}

// waitIdle waits until p has finished its turns.
func waitIdle(t *testing.T, p *Process) {
	t.Helper()
	ctx := testwasm.Context(t)
	for {
		if _, idle := p.holdsEngine(); idle {
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

// A reactor keeps its engine through the sweep that follows a turn, gives
// it back at the next one if it had no turn in between, and makes a new
// one when a message comes.
func TestIdleReactorGivesItsEngineBack(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	k := recordingKernel(t, r)
	k.engines.period = time.Hour // only this test sweeps
	p := spawn(t, k, recordingReactor(t, k), Spec{})
	if held, _ := p.holdsEngine(); held {
		t.Fatal("a reactor that never had a message holds a call engine")
	}
	for round := uint32(1); round <= 2; round++ {
		hostSend(t, k, p, round)
		r.wait(t, "the message", func(tags []uint32) bool { return len(tags) == int(round) })
		waitIdle(t, p)
		if held, _ := p.holdsEngine(); !held {
			t.Fatalf("round %d: no call engine after a turn", round)
		}
		k.engines.sweep()
		if held, _ := p.holdsEngine(); !held {
			t.Fatalf("round %d: the sweep right after a turn took its engine", round)
		}
		k.engines.sweep()
		if held, _ := p.holdsEngine(); held {
			t.Fatalf("round %d: an idle reactor kept its engine through a sweep with no turn", round)
		}
	}
	k.engines.mu.Lock()
	n := len(k.engines.held)
	k.engines.mu.Unlock()
	if n != 0 {
		t.Fatalf("the sweeper still lists %d processes, want none", n)
	}
}

// The sweeps run on their own while any reactor holds an engine, and a
// process that ended leaves the list.
func TestEngineSweepsRunOnTheirOwn(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	k := recordingKernel(t, r)
	k.engines.period = 1 // as often as the timer can
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
		k.engines.mu.Lock()
		n := len(k.engines.held)
		k.engines.mu.Unlock()
		held, _ := idle.holdsEngine()
		if n == 0 && !held {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for the sweeps: %d listed, idle reactor holds its engine: %v", n, held)
		default:
			runtime.Gosched()
		}
	}
}

// Sweeps as often as the timer allows, while many reactors take turns,
// lose every message and race nothing (run under -race): a sweep only
// touches a reactor that is idle, under its lock.
func TestEngineSweepsBesideTurns(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	k.engines.period = 1
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
					k.engines.sweep() // and from here, beside the timer's
				}
			}
		}()
	}
	wg.Wait()
	r.wait(t, "every message handled", func(tags []uint32) bool { return len(tags) == senders*each })
}

// listed counts p's entries in the sweeper's list.
func (s *engineSweeper) listed(p *Process) int {
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
// would put it to sleep keeps its engine, and is listed once: a second
// entry, added by its next turn, would put it to sleep in the first
// sweep after that turn, not one to two periods later.
func TestSleepPutOffKeepsTheEngineListedOnce(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	k := recordingKernel(t, r)
	k.engines.period = time.Hour // only this test sweeps
	m := recordingReactorWith(t, k, "dataful recorder", []wasm.Data{{Offset: wasm.Expr{0x41, 0x10, 0x0b}, Init: []byte("isle")}})
	p := spawn(t, k, m, Spec{})
	hostSend(t, k, p, 1)
	r.wait(t, "the first message", func(tags []uint32) bool { return len(tags) == 1 })
	waitIdle(t, p)
	k.engines.sweep() // it had a turn: kept
	k.engines.sweep() // idle a whole period: its wake code starts compiling
	if held, _ := p.holdsEngine(); !held {
		t.Fatal("a reactor that could not sleep yet gave its engine back")
	}
	hostSend(t, k, p, 2)
	r.wait(t, "the second message", func(tags []uint32) bool { return len(tags) == 2 })
	waitIdle(t, p)
	if n := k.engines.listed(p); n != 1 {
		t.Fatalf("the sweeper lists the reactor %d times, want once", n)
	}
}
