package isle_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// Hostile guests against dormancy, from an outside review: each of the
// first two failed before its fix.

// A memory at the wasm32 maximum, 65536 pages, comes back from a dormant
// spell at that size. (api.Memory.Size, a uint32, reads 0 there: a sleep
// that saved it woke the reactor with one page.)
func TestDormantFourGiBMemoryKeepsItsSize(t *testing.T) {
	t.Parallel()
	cfg := nodeConfig(t)
	cfg.IdleSweep = time.Millisecond
	cfg.MaxMemory = 6 << 30 // room for one 4 GiB memory, untouched but charged
	node := startNode(t, cfg)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/fourgib.wat"))
	ctx := testwasm.Context(t)
	p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 2; round++ {
		r, err := p.Call(ctx, isle.Message{Tag: 1})
		if err != nil {
			exit, _ := p.Wait(ctx)
			t.Fatalf("call %d: %v; the reactor ended %v", round, err, exit)
		}
		if r.Tag != 65536 {
			t.Fatalf("call %d (after a dormant spell: %v): %d pages, want 65536", round, round > 1, r.Tag)
		}
		waitDormantCtx(t, ctx, node, p, "with 4 GiB of memory")
	}
}

// A reactor born dormant is charged at spawn for the memory its module
// defines, exported or not, so a spawn its tree cannot hold fails there,
// as it does when the instance is made in the spawn. (Only exported
// memories were counted: born dormant, the spawn succeeded and the
// reactor died at its first message.)
func TestBornDormantChargesUnexportedMemory(t *testing.T) {
	t.Parallel()
	for _, keep := range []bool{true, false} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			node := dormantNode(t, keep)
			mod := load(t, node, testwasm.WAT(t, "testdata/wat/hiddenmem.wat"))
			ctx := testwasm.Context(t)
			if _, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{}); err != nil {
				t.Fatal(err) // this one proves the module: the next is born dormant
			}
			p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{Memory: 1 << 20})
			if err == nil {
				_, callErr := p.Call(ctx, isle.Message{Tag: 1})
				exit, _ := p.Wait(ctx)
				t.Fatalf("a reactor whose 4 MiB memory cannot fit its 1 MiB tree was spawned; its first call: %v; it ended: %v", callErr, exit)
			}
			if !strings.Contains(err.Error(), "over its limit") {
				t.Fatalf("spawn over the tree's memory: %v, want a limit error", err)
			}
		})
	}
}

// Globals whose bits are easy to lose (a negative i32, i64's minimum,
// signalling NaNs with payloads, -0.0, an exported mutable global), an
// immutable global, and memory grown to its declared maximum: the replies
// are the same with dormant spells between the calls as with the instance
// kept.
func TestDormantReactorKeepsOddGlobals(t *testing.T) {
	t.Parallel()
	ctx := testwasm.Context(t)
	replies := func(keep bool) [][]byte {
		node := dormantNode(t, keep)
		mod := load(t, node, testwasm.WAT(t, "testdata/wat/oddglobals.wat"))
		var p *isle.Process
		for range 2 { // the second is born dormant
			var err error
			if p, err = node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{}); err != nil {
				t.Fatal(err)
			}
		}
		var out [][]byte
		for range 4 {
			r, err := p.Call(ctx, isle.Message{Tag: 1})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, append([]byte(nil), r.Data...))
			if !keep {
				waitDormantCtx(t, ctx, node, p, "between calls")
			}
		}
		return out
	}
	kept, slept := replies(true), replies(false)
	for i := range kept {
		if string(kept[i]) != string(slept[i]) {
			t.Fatalf("call %d: reply %x with dormant spells, %x with the instance kept", i+1, slept[i], kept[i])
		}
	}
	le := binary.LittleEndian
	last := kept[len(kept)-1]
	if int32(le.Uint32(last)) != -10 || le.Uint64(last[4:]) != 1<<63 || le.Uint32(last[12:]) != 0x7fa00001 ||
		le.Uint64(last[16:]) != 0x7ff4000000000001 || le.Uint64(last[24:]) != 1<<63 || le.Uint32(last[32:]) != 42 ||
		le.Uint32(last[36:]) != 3 || le.Uint32(last[40:]) != 4 {
		t.Fatalf("unexpected final reply %x", last)
	}
}

// Reactors with and without data segments are called, put to sleep and
// killed (some asleep, some awake) while the node's Snapshot, Inspect and
// admin metrics read them all: no count is lost or repeated, no call
// hangs, and once all have died the node's memory account is where it
// was. The metrics scrapes take every process's lock while the sweep
// holds one and starts compiling a module's wake code.
func TestDormancyUnderConcurrentKillsAndReads(t *testing.T) {
	t.Parallel()
	node := dormantNode(t, false)
	ctx := testwasm.Context(t)
	mods := []*isle.Module{
		load(t, node, testwasm.WAT(t, "testdata/wat/dormant.wat")),
		load(t, node, testwasm.WAT(t, "testdata/wat/dataful.wat")),
	}
	for _, m := range mods { // prove both: the reactors below are born dormant
		p, err := node.Spawn(ctx, m, isle.Grants{}, isle.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		p.Kill()
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	base := node.Snapshot().Memory
	var readersDone atomic.Bool
	var readers sync.WaitGroup
	readers.Go(func() {
		h := node.AdminHandler("")
		for !readersDone.Load() {
			for _, pi := range node.Snapshot().Processes {
				_, _ = node.Inspect(pi.PID)
			}
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/metrics", nil))
		}
	})
	const n, rounds = 40, 12
	var callers sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		p, err := node.Spawn(ctx, mods[i%2], isle.Grants{}, isle.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		callers.Go(func() { errs <- dormantCycles(ctx, node, p, i, rounds) })
	}
	callers.Wait()
	readersDone.Store(true)
	readers.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for node.Snapshot().Memory != base {
		select {
		case <-ctx.Done():
			t.Fatalf("node memory %d after every reactor died, want %d", node.Snapshot().Memory, base)
		default:
			runtime.Gosched()
		}
	}
}

// dormantCycles calls reactor i, p, rounds times, checking the count it
// replies, and waits for it to go dormant after every third call. Every
// fourth reactor is killed part way while dormant, every fourth but one
// right after a call, awake; the others at the end.
func dormantCycles(ctx context.Context, node *isle.Node, p *isle.Process, i, rounds int) error {
	killAt := -1
	if i%4 < 2 {
		killAt = 1 + i%(rounds-1)
	}
	for round := 1; round <= rounds; round++ {
		r, err := p.Call(ctx, isle.Message{Tag: 1})
		if err != nil {
			return fmt.Errorf("process %d, call %d: %w", p.ID(), round, err)
		}
		if got := binary.LittleEndian.Uint32(r.Data); got != uint32(round) {
			return fmt.Errorf("process %d, call %d: it counted %d", p.ID(), round, got)
		}
		if round%3 == 0 || round == killAt && i%4 == 0 {
			if err := untilDormant(ctx, node, p); err != nil {
				return err
			}
		}
		if round == killAt {
			p.Kill()
			if _, err := p.Call(ctx, isle.Message{Tag: 1}); err == nil {
				return fmt.Errorf("process %d answered after its kill", p.ID())
			}
			break
		}
	}
	p.Kill()
	_, err := p.Wait(ctx)
	return err
}
