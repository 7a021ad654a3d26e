package isle_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// dormantNode returns a node of the test's own whose idle reactors go
// dormant within two milliseconds of their last turn.
func dormantNode(t *testing.T, keep bool) *isle.Node {
	t.Helper()
	cfg := nodeConfig(t)
	cfg.IdleSweep = time.Millisecond
	cfg.KeepInstances = keep
	return startNode(t, cfg)
}

// dormant reports whether the node shows p dormant.
func dormant(t *testing.T, node *isle.Node, p *isle.Process) bool {
	t.Helper()
	d, err := node.Inspect(p.ID())
	if err != nil {
		t.Fatal(err)
	}
	return d.Dormant
}

// waitDormant waits until the node shows p dormant.
func waitDormant(t *testing.T, node *isle.Node, p *isle.Process, why string) {
	t.Helper()
	waitDormantCtx(t, testwasm.Context(t), node, p, why)
}

// waitDormantCtx is waitDormant under ctx.
func waitDormantCtx(t *testing.T, ctx context.Context, node *isle.Node, p *isle.Process, why string) {
	t.Helper()
	if err := untilDormant(ctx, node, p); err != nil {
		t.Fatalf("%s: %v", why, err)
	}
}

// untilDormant waits for the node to show p dormant, or ctx to end. It
// fails rather than stopping the test, for callers off the test's
// goroutine.
func untilDormant(ctx context.Context, node *isle.Node, p *isle.Process) error {
	for {
		d, err := node.Inspect(p.ID())
		if err != nil {
			return err
		}
		if d.Dormant {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("process %d never went dormant: %w", p.ID(), ctx.Err())
		default:
			runtime.Gosched()
		}
	}
}

// dormantState is what testdata/wat/dormant.wat replies.
type dormantState struct {
	calls          uint32
	big            uint64
	half           float32
	quarter        float64
	pages, pageSum uint32
}

func callDormant(t *testing.T, p *isle.Process) dormantState {
	t.Helper()
	return callDormantCtx(t, testwasm.Context(t), p)
}

func callDormantCtx(t *testing.T, ctx context.Context, p *isle.Process) dormantState {
	t.Helper()
	r, err := p.Call(ctx, isle.Message{Tag: 7})
	if err != nil || len(r.Data) != 32 {
		t.Fatalf("call: %+v, %v", r, err)
	}
	le := binary.LittleEndian
	return dormantState{calls: le.Uint32(r.Data), big: le.Uint64(r.Data[4:]),
		half: math.Float32frombits(le.Uint32(r.Data[12:])), quarter: math.Float64frombits(le.Uint64(r.Data[16:])),
		pages: le.Uint32(r.Data[24:]), pageSum: le.Uint32(r.Data[28:])}
}

// A reactor goes dormant between its turns and loses nothing: its globals
// of every number type, the memory it grew and what it wrote there, and
// its memory account, whether it was born dormant or put to sleep.
func TestDormantReactorKeepsItsState(t *testing.T) {
	t.Parallel()
	node := dormantNode(t, false)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/dormant.wat"))
	ctx := testwasm.Context(t)
	first, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if dormant(t, node, first) {
		t.Fatal("the first process of a module was left dormant: its module was never instantiated")
	}
	p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !dormant(t, node, p) {
		t.Fatal("a reactor with nothing to run at spawn was instantiated in its spawn")
	}
	for round := uint32(1); round <= 4; round++ {
		got := callDormant(t, p)
		want := dormantState{calls: round, big: uint64(round) * 0x100000001, half: float32(round) / 2,
			quarter: float64(round) / 4, pages: 3, pageSum: round * (round + 1) / 2}
		if got != want {
			t.Fatalf("call %d after a dormant spell: got %+v, want %+v", round, got, want)
		}
		before := p.Stats().Memory
		waitDormant(t, node, p, "after a turn and an idle sweep")
		if after := p.Stats().Memory; after != before {
			t.Fatalf("round %d: its memory account went from %d to %d bytes as it went dormant", round, before, after)
		}
	}
	if got := callDormant(t, first); got.calls != 1 || got.pageSum != 1 {
		t.Fatalf("a neighbour's state leaked into the first process: %+v", got)
	}
}

// The kernel never puts to sleep a reactor whose new instance would
// differ: one that grows its table. It is still born dormant (nothing
// runs at its spawn).
func TestDormancyRefusedWhereStateWouldBeLost(t *testing.T) {
	t.Parallel()
	node := dormantNode(t, false)
	wakeful := load(t, node, testwasm.WAT(t, "testdata/wat/wakeful.wat"))
	sleeper := load(t, node, testwasm.WAT(t, "testdata/wat/dormant.wat"))
	ctx := testwasm.Context(t)
	var w, s *isle.Process
	for range 2 { // the second of each is born dormant
		var err error
		if w, err = node.Spawn(ctx, wakeful, isle.Grants{}, isle.Limits{}); err != nil {
			t.Fatal(err)
		}
		if s, err = node.Spawn(ctx, sleeper, isle.Grants{}, isle.Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	if !dormant(t, node, w) {
		t.Fatal("a reactor with nothing to run at spawn was instantiated in its spawn")
	}
	for round := uint32(1); round <= 3; round++ {
		r, err := w.Call(ctx, isle.Message{Tag: 1})
		if err != nil {
			t.Fatal(err)
		}
		if size, count := binary.LittleEndian.Uint32(r.Data), binary.LittleEndian.Uint32(r.Data[4:]); size != round || count != round {
			t.Fatalf("call %d: table size %d and count %d, want %d and %d", round, size, count, round, round)
		}
		// The sleeper's turn comes after the other's: once the sweeps put
		// it to sleep, they have seen the other idle as long.
		callDormant(t, s)
		waitDormant(t, node, s, "beside the reactor that must stay awake")
		if dormant(t, node, w) {
			t.Fatal("a reactor that grows its table was put to sleep")
		}
	}
}

// Config.KeepInstances turns dormancy off: reactors are instantiated in
// their spawn and keep their instance.
func TestKeepInstances(t *testing.T) {
	t.Parallel()
	node := dormantNode(t, true)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/dormant.wat"))
	ctx := testwasm.Context(t)
	var ps []*isle.Process
	for range 2 {
		p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
		if dormant(t, node, p) {
			t.Fatal("KeepInstances: a reactor was left dormant at spawn")
		}
	}
	// Many sweeps pass while a thousand calls go by; none may take the
	// instance of the reactor that idles meanwhile.
	for range 1000 {
		callDormant(t, ps[1])
	}
	callDormant(t, ps[0])
	for _, p := range ps {
		if dormant(t, node, p) {
			t.Fatal("KeepInstances: a reactor was put to sleep")
		}
	}
	if _, err := isle.NewNode(ctx, isle.Config{IdleSweep: -time.Second}); err == nil {
		t.Fatal("a negative IdleSweep was accepted")
	}
}

// Dormant reactors that die, born dormant or put to sleep, give back
// everything they were charged: the node's memory account returns to
// where it was.
func TestDormantReactorsGiveTheirMemoryBack(t *testing.T) {
	t.Parallel()
	node := dormantNode(t, false)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/dormant.wat"))
	ctx := testwasm.Context(t)
	warm, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	base := node.Snapshot().Memory
	const n = 64
	ps := make([]*isle.Process, n)
	for i := range ps {
		if ps[i], err = node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range ps[:n/2] {
		callDormant(t, p) // grows to three pages and writes the third
	}
	for _, p := range ps {
		waitDormant(t, node, p, "before its kill")
	}
	if grown := node.Snapshot().Memory; grown < base+n*65536+n/2*2*65536 {
		t.Fatalf("node memory %d with %d dormant reactors, half of them grown: their memory is not counted (base %d)", grown, n, base)
	}
	for _, p := range ps {
		p.Kill()
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := node.Snapshot().Memory; got != base {
		t.Fatalf("node memory %d after every dormant reactor died, want %d as before", got, base)
	}
	callDormant(t, warm)
}

// A Go reactor started from an image goes dormant between its turns, and
// its runtime and heap come back whole: what it noted before each spell
// is there after it, and its clock and entropy still work.
func TestDormantGoReactorFromImage(t *testing.T) {
	t.Parallel()
	cfg := nodeConfig(t)
	cfg.NoImages, cfg.IdleSweep = false, time.Millisecond
	node := startNode(t, cfg)
	mod := load(t, node, testwasm.Go(t, "testdata/go/imaged"))
	g := imagedGrants()
	if err := node.PrepareImage(testwasm.Context(t), mod, g, isle.Limits{}); err != nil {
		t.Fatal(err)
	}
	p, imaged := spawnImaged(t, node, mod, g, isle.Limits{})
	if !imaged {
		t.Fatal("a spawn after PrepareImage did not start from the image")
	}
	want := ""
	for _, note := range []string{"x", "y", "z"} {
		callImaged(t, p, imgNote, note)
		want += "," + note
		waitDormant(t, node, p, "after a turn of a Go reactor from an image")
		if got := string(callImaged(t, p, imgNotes, "")); got != want[1:] {
			t.Fatalf("after a dormant spell the notes are %q, want %q", got, want[1:])
		}
		waitDormant(t, node, p, "after reading its notes")
		if since := int64(binary.LittleEndian.Uint64(callImaged(t, p, imgSince, ""))); since < 0 {
			t.Fatalf("after a dormant spell its monotonic clock is %d ns behind its init's", -since)
		}
		if e := callImaged(t, p, imgEntropy, ""); len(e) == 0 {
			t.Fatal("no entropy after a dormant spell")
		}
	}
}

// A module that exports a name the kernel reserves for its own exports of
// globals is refused, with the reason.
func TestReservedGlobalExportRefused(t *testing.T) {
	t.Parallel()
	node := sharedNode(t)
	_, err := node.LoadModuleFile(testwasm.Context(t), testwasm.WAT(t, "testdata/wat/reservedglobal.wat"))
	if !errors.Is(err, api.ErrInvalidModule) || !strings.Contains(err.Error(), `"isle:global:" are reserved`) {
		t.Fatalf("loading a module that exports isle:global:0: %v", err)
	}
}

// Sleeping and waking over and over leaks nothing, measured from outside:
// the node's resident memory and its memory account stay where they were
// after the first cycles. A sleep that kept its old instance alive, or a
// wake that lost its memory region, would add 2 to 4 KiB a cycle.
// Not parallel, so that only this test moves the resident set.
func TestDormantCyclesLeakNothing(t *testing.T) {
	node := dormantNode(t, false)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/dormant.wat"))
	ctx := testwasm.Context(t)
	const n, warm, cycles = 500, 3, 60
	ps := make([]*isle.Process, n)
	for i := range ps {
		var err error
		if ps[i], err = node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	cycle := func(round int) {
		for _, p := range ps {
			if got := callDormantCtx(t, ctx, p); got.calls != uint32(round) {
				t.Fatalf("cycle %d: the reactor counted %d calls", round, got.calls)
			}
		}
		for _, p := range ps {
			waitDormantCtx(t, ctx, node, p, "in a sleep-wake cycle")
		}
	}
	for round := 1; round <= warm; round++ {
		cycle(round)
	}
	var ms runtime.MemStats
	debug.FreeOSMemory()
	runtime.ReadMemStats(&ms)
	rss0, heap0, acct0 := testwasm.Resident(t), ms.HeapInuse, node.Snapshot().Memory
	for round := warm + 1; round <= warm+cycles; round++ {
		cycle(round)
	}
	debug.FreeOSMemory()
	runtime.ReadMemStats(&ms)
	rss1, heap1, acct1 := testwasm.Resident(t), ms.HeapInuse, node.Snapshot().Memory
	t.Logf("resident %d KiB after %d cycles, %d after %d more; Go heap in use %d KiB, then %d", rss0, warm, rss1, cycles, heap0>>10, heap1>>10)
	if acct1 != acct0 {
		t.Errorf("the node's memory account went from %d to %d bytes over %d sleep-wake cycles", acct0, acct1, cycles)
	}
	// KiB: one per wake. An instance kept per wake adds 2.3 KiB; the race
	// detector's own bookkeeping adds about 0.3.
	if grew := rss1 - rss0; grew > n*cycles {
		t.Errorf("resident memory grew %d KiB over %d wakes", grew, n*cycles)
	}
}

// Dormancy changes no fuel figure: the same calls spend the same fuel
// whether the reactor slept between them or kept its instance.
func TestDormancyKeepsFuelAccounting(t *testing.T) {
	t.Parallel()
	ctx := testwasm.Context(t)
	fuel := func(keep bool) int64 {
		node := dormantNode(t, keep)
		mod := load(t, node, testwasm.WAT(t, "testdata/wat/dormant.wat"))
		var p *isle.Process
		for range 2 { // the second is born dormant, unless kept
			var err error
			if p, err = node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{}); err != nil {
				t.Fatal(err)
			}
		}
		for range 5 {
			callDormantCtx(t, ctx, p)
			if !keep {
				waitDormantCtx(t, ctx, node, p, "between calls")
			}
		}
		p.Kill() // Stats are exact once the process has ended
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		return p.Stats().Fuel
	}
	kept, slept := fuel(true), fuel(false)
	if kept == 0 || slept != kept {
		t.Fatalf("five calls spent %d fuel with dormant spells between them, %d with the instance kept", slept, kept)
	}
}

// A reactor with data segments sleeps too, once the kernel has compiled
// its code without them: woken, it keeps what it wrote over them.
func TestDormantReactorWithDataKeepsItsWrites(t *testing.T) {
	t.Parallel()
	node := dormantNode(t, false)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/dataful.wat"))
	ctx := testwasm.Context(t)
	p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for round := uint32(1); round <= 3; round++ {
		r, err := p.Call(ctx, isle.Message{Tag: 1})
		if err != nil {
			t.Fatal(err)
		}
		if n := binary.LittleEndian.Uint32(r.Data); n != round || string(r.Data[4:]) != "isle" {
			t.Fatalf("call %d after a dormant spell: count %d, segment %q", round, n, r.Data[4:])
		}
		waitDormantCtx(t, ctx, node, p, "with data segments")
	}
}
