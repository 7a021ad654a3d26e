package kernel

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
	"github.com/isle-run/isle/internal/wasm"
)

// idRecorder collects (id, tag) pairs from idReactor.
type idRecorder struct {
	mu   sync.Mutex
	got  map[uint32]uint32 // tag -> the id of the reactor that handled it
	more chan struct{}
}

// idKernel is a kernel whose dispatcher chunks hold size slots, with the
// host module idReactor reports to.
func idKernel(t *testing.T, size uint32) (*Kernel, *idRecorder) {
	t.Helper()
	k := newKernel(t)
	k.dispatch.size = size
	r := &idRecorder{got: map[uint32]uint32{}, more: make(chan struct{})}
	seen := func(_ context.Context, stack []uint64) {
		r.mu.Lock()
		r.got[uint32(stack[1])] = uint32(stack[0])
		close(r.more)
		r.more = make(chan struct{})
		r.mu.Unlock()
	}
	b := k.Runtime().NewHostModuleBuilder("dtest").NewFunctionBuilder().
		WithGoFunction(api.GoFunc(seen), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, nil).Export("seen")
	if err := k.AddHostModule(context.Background(), b, "dtest"); err != nil {
		t.Fatal(err)
	}
	return k, r
}

// idReactor takes the tag of its first message as its id, kept in a
// mutable global, and reports (id, tag) for every message.
func idReactor(t *testing.T, k *Kernel) *Module {
	t.Helper()
	// global.get 0; i32.eqz; if; local.get 1; global.set 0; end;
	// global.get 0; local.get 1; call 0; end
	body := []byte{0x00, 0x23, 0x00, 0x45, 0x04, 0x40, 0x20, 0x01, 0x24, 0x00, 0x0b,
		0x23, 0x00, 0x20, 0x01, 0x10, 0x00, 0x0b}
	handler := wasm.FuncType{Params: []wasm.ValType{wasm.I32, wasm.I32, wasm.I32, wasm.I32}}
	m := &wasm.Module{}
	m.Put(wasm.SectionType, wasm.EncodeTypes([]wasm.FuncType{{Params: []wasm.ValType{wasm.I32, wasm.I32}}, handler}))
	m.Put(wasm.SectionImport, wasm.EncodeImports([]wasm.Import{{Module: "dtest", Name: "seen", Kind: wasm.KindFunc, Func: 0}}))
	m.Put(wasm.SectionFunction, wasm.EncodeIndices([]uint32{1}))
	m.Put(wasm.SectionMemory, wasm.EncodeMemories([]wasm.Limits{{Min: 1}}))
	m.Put(wasm.SectionGlobal, wasm.EncodeGlobals([]wasm.Global{{Type: wasm.GlobalType{Type: wasm.I32, Mutable: true}, Init: wasm.Expr{0x41, 0x00, 0x0b}}}))
	m.Put(wasm.SectionExport, wasm.EncodeExports([]wasm.Export{{Name: "isle_handle", Kind: wasm.KindFunc, Index: 1}}))
	m.Put(wasm.SectionCode, wasm.EncodeCode([]wasm.Code{{Body: body}}))
	mod, err := k.Load(context.Background(), "id", m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// expect waits until every tag in want was handled, and checks by whom.
func (r *idRecorder) expect(t *testing.T, want map[uint32]uint32) {
	t.Helper()
	ctx := testwasm.Context(t)
	for {
		r.mu.Lock()
		done, more := true, r.more
		for tag, id := range want {
			got, ok := r.got[tag]
			if ok && got != id {
				r.mu.Unlock()
				t.Fatalf("message %d went to reactor %d, not %d", tag, got, id)
			}
			done = done && ok
		}
		r.mu.Unlock()
		if done {
			return
		}
		select {
		case <-more:
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %d messages to be handled", len(want))
		}
	}
}

// Slots are handed out, freed and handed out again as reactors end,
// sleep and wake, over several dispatcher instances: every message still
// runs in the instance of the reactor it was sent to.
func TestDispatchSlotsStayWithTheirReactors(t *testing.T) {
	t.Parallel()
	k, r := idKernel(t, 4)
	k.sweeper.period = 1 << 62 // only this test sweeps
	mod := idReactor(t, k)
	ids := map[*Process]uint32{}
	next := uint32(1)
	add := func() {
		p := spawn(t, k, mod, Spec{})
		ids[p] = next
		hostSend(t, k, p, next) // its id
		next++
	}
	for range 18 {
		add()
	}
	tag := uint32(1 << 20)
	for round := range 6 {
		want := map[uint32]uint32{}
		for p, id := range ids {
			hostSend(t, k, p, tag)
			want[tag] = id
			tag++
		}
		r.expect(t, want)
		switch round % 3 {
		case 0: // some end, and others take their slots
			n := 0
			for p := range ids {
				if n++; n > 5 {
					break
				}
				p.Kill("test")
				waitExit(t, p)
				delete(ids, p)
			}
			for range 5 {
				add()
			}
		case 1: // all sleep, freeing their slots, and wake in another order
			for p := range ids {
				waitIdle(t, p)
			}
			k.sweeper.sweep()
			k.sweeper.sweep()
			for p := range ids {
				if held, _ := p.holdsSlot(); held {
					t.Fatalf("reactor %d kept its slot through two sweeps without a turn", ids[p])
				}
			}
		}
	}
	k.dispatch.mu.Lock()
	chunks, handed := len(k.dispatch.chunks), k.dispatch.next
	k.dispatch.mu.Unlock()
	if chunks < 5 || handed > 4*uint32(chunks) {
		t.Fatalf("%d chunks and %d slots handed out, for at most 23 reactors awake at once", chunks, handed)
	}
}

// A turn that grew its stack far leaves the worker's engine behind: the
// Go heap does not keep the grown stack once the turn is over.
func TestDeepTurnLeavesNoStackBehind(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	mod := deepReactor(t, k)
	p := spawn(t, k, mod, Spec{})
	turn := func(depth uint32) {
		t.Helper()
		hostSend(t, k, p, depth)
		r.wait(t, "the turn", func(tags []uint32) bool { return len(tags) > 0 && tags[len(tags)-1] == depth })
		waitIdle(t, p)
	}
	turn(1)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	turn(100_000)
	if p.callStack.granted < 4<<20 {
		t.Fatalf("the deep turn was granted %d bytes of stack; the test needs several MiB", p.callStack.granted)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 1<<20 {
		t.Fatalf("the heap kept %d KiB after a turn that used %d KiB of stack", grew>>10, p.callStack.granted>>10)
	}
	turn(2) // and the reactor still runs
}

// deepReactor's isle_handle recurses as deep as its message's tag says,
// then calls test.seen(tag).
func deepReactor(t *testing.T, k *Kernel) *Module {
	t.Helper()
	// rec(n): if n { rec(n - 1) }
	rec := []byte{0x00, 0x20, 0x00, 0x04, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x01, 0x0b, 0x0b}
	// isle_handle: rec(tag); test.seen(tag)
	handle := []byte{0x00, 0x20, 0x01, 0x10, 0x01, 0x20, 0x01, 0x10, 0x00, 0x0b}
	m := &wasm.Module{}
	m.Put(wasm.SectionType, wasm.EncodeTypes([]wasm.FuncType{{Params: []wasm.ValType{wasm.I32}}, handlerType}))
	m.Put(wasm.SectionImport, wasm.EncodeImports([]wasm.Import{{Module: "test", Name: "seen", Kind: wasm.KindFunc, Func: 0}}))
	m.Put(wasm.SectionFunction, wasm.EncodeIndices([]uint32{0, 1}))
	m.Put(wasm.SectionMemory, wasm.EncodeMemories([]wasm.Limits{{Min: 1}}))
	m.Put(wasm.SectionExport, wasm.EncodeExports([]wasm.Export{{Name: "isle_handle", Kind: wasm.KindFunc, Index: 2}}))
	m.Put(wasm.SectionCode, wasm.EncodeCode([]wasm.Code{{Body: rec}, {Body: handle}}))
	mod, err := k.Load(context.Background(), "deep", m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// A reactor that was deep once runs its later turns on an engine of its
// own, not on a new one each turn: they allocate no more than a shallow
// reactor's. (Found in review: the worker dropped its engine after every
// turn of such a reactor, as its grant never goes down.)
func TestDeepOnceTurnsAllocateNoEngine(t *testing.T) {
	if testwasm.RaceEnabled() {
		t.Skip("the race detector allocates on its own account")
	}
	r := newRecorder()
	k := recordingKernel(t, r)
	mod := deepReactor(t, k)
	once, shallow := spawn(t, k, mod, Spec{}), spawn(t, k, mod, Spec{})
	turn := func(p *Process, tag uint32) {
		t.Helper()
		n := r.total.Load()
		hostSend(t, k, p, tag)
		r.wait(t, "a turn", func([]uint32) bool { return r.total.Load() > n })
		waitIdle(t, p)
	}
	turn(once, 20_000)
	turn(shallow, 1)
	if !deep(once) {
		t.Fatalf("the deep reactor was granted only %d bytes of stack", once.callStack.granted)
	}
	perTurn := func(p *Process) float64 {
		const turns = 300
		var a, b runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&a)
		for i := range turns {
			turn(p, uint32(2+i%3))
		}
		runtime.ReadMemStats(&b)
		return float64(b.TotalAlloc-a.TotalAlloc) / turns
	}
	s, d := perTurn(shallow), perTurn(once)
	if d > s+4<<10 {
		t.Fatalf("a turn of the reactor that was deep once allocates %.0f bytes, a shallow one's %.0f", d, s)
	}
}

// Workers started for turns that blocked drop their call engines when
// they park as surplus: once those turns and their reactors are gone, the
// node keeps at most an engine per CPU. (Found in review.)
func TestSurplusWorkersKeepNoEngines(t *testing.T) {
	k := newKernel(t)
	release := make(chan struct{})
	var blocked sync.WaitGroup
	block := func(ctx context.Context, _ []uint64) {
		p := processFrom(ctx)
		blocked.Done()
		_ = p.wait(release, -1)
	}
	b := k.Runtime().NewHostModuleBuilder("block").NewFunctionBuilder().
		WithGoFunction(api.GoFunc(block), nil, nil).Export("block")
	if err := k.AddHostModule(context.Background(), b, "block"); err != nil {
		t.Fatal(err)
	}
	// call 0 (block.block); end
	mod := loadReactor(t, k, "blocker", []wasm.FuncType{{}},
		[]wasm.Import{{Module: "block", Name: "block", Kind: wasm.KindFunc, Func: 0}}, []byte{0x00, 0x10, 0x00, 0x0b}, nil)
	const n = 32
	ps := make([]*Process, n)
	blocked.Add(n)
	for i := range ps {
		ps[i] = spawn(t, k, mod, Spec{})
		hostSend(t, k, ps[i], 1)
	}
	ctx := testwasm.Context(t)
	all := make(chan struct{})
	go func() { blocked.Wait(); close(all) }()
	select {
	case <-all:
	case <-ctx.Done():
		t.Fatal("the turns did not all block")
	}
	close(release)
	for _, p := range ps {
		waitIdle(t, p)
		p.Kill("over")
		waitExit(t, p)
	}
	for {
		s := k.sched
		s.mu.Lock()
		workers, idle, engines := len(s.workers), len(s.idle), 0
		for _, w := range s.idle {
			for _, f := range w.dispatch {
				if f != nil {
					engines++
				}
			}
		}
		s.mu.Unlock()
		if idle == workers {
			if engines > int(s.maxActive) {
				t.Fatalf("%d parked workers keep %d call engines after every reactor that used them ended", workers, engines)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d of %d workers parked", idle, workers)
		default:
			runtime.Gosched()
		}
	}
}

// A guest whose module names itself like the dispatcher keeps its frames.
// (Found in review: frames were dropped by the name's prefix.)
func TestGuestNamedLikeTheDispatcherKeepsItsFrames(t *testing.T) {
	t.Parallel()
	k := newKernel(t)
	m := &wasm.Module{}
	m.Put(wasm.SectionType, wasm.EncodeTypes([]wasm.FuncType{handlerType}))
	m.Put(wasm.SectionFunction, wasm.EncodeIndices([]uint32{0}))
	m.Put(wasm.SectionMemory, wasm.EncodeMemories([]wasm.Limits{{Min: 1}}))
	m.Put(wasm.SectionExport, wasm.EncodeExports([]wasm.Export{{Name: "isle_handle", Kind: wasm.KindFunc, Index: 0}}))
	m.Put(wasm.SectionCode, wasm.EncodeCode([]wasm.Code{{Body: []byte{0x00, 0x00, 0x0b}}})) // unreachable
	name := "isle:dispatch"
	mn := append(wasm.AppendU32(nil, uint32(len(name))), name...)
	m.Sections = append(m.Sections, wasm.Section{ID: wasm.SectionCustom, Name: "name",
		Payload: wasm.EncodeNameSubsections([]wasm.NameSubsection{{ID: wasm.NameModule, Payload: mn}})})
	mod, err := k.Load(context.Background(), "named", m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	p := spawn(t, k, mod, Spec{})
	hostSend(t, k, p, 1)
	if e := waitExit(t, p); e.Kind != isleapi.ExitAbandoned || len(e.Abandon.Frames) != 1 {
		t.Fatalf("exit %v, want abandoned with the guest's one frame", e)
	}
}

// A trap in a handler reports the guest's frames, not the dispatcher's.
func TestHandlerTrapFramesAreTheGuests(t *testing.T) {
	t.Parallel()
	k := newKernel(t)
	// unreachable; end
	mod := loadReactor(t, k, "trap", nil, nil, []byte{0x00, 0x00, 0x0b}, nil)
	p := spawn(t, k, mod, Spec{})
	hostSend(t, k, p, 1)
	e := waitExit(t, p)
	if e.Kind != isleapi.ExitAbandoned || e.Abandon.Cause != isleapi.CauseUnreachable {
		t.Fatalf("exit %v, want abandoned at unreachable", e)
	}
	// The module has no name section: its function is named by index.
	if fs := e.Abandon.Frames; len(fs) != 1 || !strings.HasSuffix(fs[0].Signature, "(i32,i32,i32,i32)") {
		t.Fatalf("frames %+v, want the handler's alone", fs)
	}
}

// exportHandler refuses a reactor the dispatcher could not call, and
// leaves a command alone.
func TestExportHandlerRefuses(t *testing.T) {
	t.Parallel()
	i32 := wasm.I32
	build := func(handlerType wasm.FuncType, imported bool, extra ...wasm.Export) []byte {
		m := &wasm.Module{}
		m.Put(wasm.SectionType, wasm.EncodeTypes([]wasm.FuncType{handlerType}))
		idx := uint32(0)
		if imported {
			m.Put(wasm.SectionImport, wasm.EncodeImports([]wasm.Import{{Module: "x", Name: "h", Kind: wasm.KindFunc}}))
		} else {
			m.Put(wasm.SectionFunction, wasm.EncodeIndices([]uint32{0}))
			body := []byte{0x00}
			for range handlerType.Results {
				body = append(body, 0x41, 0x00)
			}
			m.Put(wasm.SectionCode, wasm.EncodeCode([]wasm.Code{{Body: append(body, 0x0b)}}))
		}
		exports := append([]wasm.Export{{Name: handlerExport, Kind: wasm.KindFunc, Index: idx}}, extra...)
		m.Put(wasm.SectionExport, wasm.EncodeExports(exports))
		return m.Encode()
	}
	for _, c := range []struct {
		name string
		bin  []byte
		want string // "" for accepted
	}{
		{"reactor", build(handlerType, false), ""},
		{"three params", build(wasm.FuncType{Params: []wasm.ValType{i32, i32, i32}}, false), "has type (i32 i32 i32) -> ()"},
		{"a result", build(wasm.FuncType{Params: handlerType.Params, Results: []wasm.ValType{i32}}, false), "returns nothing"},
		{"imported", build(handlerType, true), "is an imported function"},
		{"reserved", build(handlerType, false, wasm.Export{Name: handlerRefExport, Kind: wasm.KindFunc}), "reserved for the kernel"},
		{"command", build(wasm.FuncType{}, false, wasm.Export{Name: entryPoint, Kind: wasm.KindFunc}), ""},
	} {
		out, err := exportHandler(c.bin)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want an error saying %q", c.name, err, c.want)
		case c.name == "reactor" && !strings.Contains(string(out), handlerRefExport):
			t.Errorf("reactor: no %s export added", handlerRefExport)
		case c.name == "command" && string(out) != string(c.bin):
			t.Errorf("command: changed")
		}
	}
}
