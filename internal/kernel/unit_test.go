package kernel

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
	"github.com/isle-run/isle/internal/wasm"
)

// These tests build their guests with internal/wasm, so they need no
// toolchain: each reactor's isle_handle reports (pid-less) what it was
// given to a host function, test.seen(tag, aux), and returns.

// recorder collects what reactors saw, by tag.
type recorder struct {
	mu    sync.Mutex
	tags  []uint32
	total atomic.Int64
	more  chan struct{}
}

func newRecorder() *recorder { return &recorder{more: make(chan struct{})} }

func (r *recorder) seen(tag uint32) {
	r.mu.Lock()
	r.tags = append(r.tags, tag)
	close(r.more)
	r.more = make(chan struct{})
	r.mu.Unlock()
	r.total.Add(1)
}

// wait waits until cond holds over the tags seen so far.
func (r *recorder) wait(t *testing.T, what string, cond func([]uint32) bool) {
	t.Helper()
	ctx := testwasm.Context(t)
	for {
		r.mu.Lock()
		ok, more := cond(r.tags), r.more
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-more:
		case <-ctx.Done():
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("gave up waiting for %s; seen %v", what, r.tags)
		}
	}
}

// recordingKernel is a kernel with the test host module installed.
func recordingKernel(t *testing.T, r *recorder) *Kernel {
	t.Helper()
	k := newKernel(t)
	b := k.Runtime().NewHostModuleBuilder("test").NewFunctionBuilder().
		WithGoFunction(api.GoFunc(func(_ context.Context, stack []uint64) { r.seen(uint32(stack[0])) }),
			[]api.ValueType{api.ValueTypeI32}, nil).Export("seen")
	if err := k.AddHostModule(context.Background(), b, "test"); err != nil {
		t.Fatal(err)
	}
	return k
}

// recordingReactor is a reactor that calls test.seen(tag) for every
// message.
func recordingReactor(t *testing.T, k *Kernel) *Module {
	t.Helper()
	return recordingReactorWith(t, k, "recorder", nil)
}

// recordingReactorWith is recordingReactor with data segments, loaded as
// name.
func recordingReactorWith(t *testing.T, k *Kernel, name string, data []wasm.Data) *Module {
	t.Helper()
	// local.get 1 (the tag); call 0 (test.seen); end
	body := []byte{0x00, 0x20, 0x01, 0x10, 0x00, 0x0b}
	return loadReactor(t, k, name, []wasm.FuncType{{Params: []wasm.ValType{wasm.I32}}},
		[]wasm.Import{{Module: "test", Name: "seen", Kind: wasm.KindFunc, Func: 0}}, body, data)
}

// loadReactor loads, as name, a reactor with one page of memory whose
// isle_handle has body. It imports imports, whose types are types; the
// handler's type follows them. data, if any, are its data segments.
func loadReactor(t *testing.T, k *Kernel, name string, types []wasm.FuncType, imports []wasm.Import, body []byte, data []wasm.Data) *Module {
	t.Helper()
	handler := wasm.FuncType{Params: []wasm.ValType{wasm.I32, wasm.I32, wasm.I32, wasm.I32}}
	m := &wasm.Module{}
	m.Put(wasm.SectionType, wasm.EncodeTypes(append(slices.Clip(types), handler)))
	if len(imports) > 0 {
		m.Put(wasm.SectionImport, wasm.EncodeImports(imports))
	}
	m.Put(wasm.SectionFunction, wasm.EncodeIndices([]uint32{uint32(len(types))}))
	m.Put(wasm.SectionMemory, wasm.EncodeMemories([]wasm.Limits{{Min: 1}}))
	m.Put(wasm.SectionExport, wasm.EncodeExports([]wasm.Export{
		{Name: "memory", Kind: wasm.KindMemory, Index: 0},
		{Name: "isle_handle", Kind: wasm.KindFunc, Index: uint32(len(imports))},
	}))
	m.Put(wasm.SectionCode, wasm.EncodeCode([]wasm.Code{{Body: body}}))
	if data != nil {
		m.Put(wasm.SectionData, wasm.EncodeData(data))
	}
	mod, err := k.Load(context.Background(), name, m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

func spawn(t *testing.T, k *Kernel, m *Module, spec Spec) *Process {
	t.Helper()
	p, err := k.Spawn(context.Background(), m, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill("test over") })
	return p
}

func hostSend(t *testing.T, k *Kernel, q Target, tag uint32) {
	t.Helper()
	if err := k.HostSend(context.Background(), q, NewMessage(tag, nil), false); err != nil {
		t.Fatalf("send %d: %v", tag, err)
	}
}

func waitExit(t *testing.T, p *Process) isleapi.Exit {
	t.Helper()
	e, err := p.Wait(testwasm.Context(t))
	if err != nil {
		t.Fatalf("process %d did not end: %v", p.ID, err)
	}
	return e
}

// Many goroutines send to many reactors at once: every message is handled
// exactly once, and each sender's messages in order. Run under -race.
func TestSchedulerHammer(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	mod := recordingReactor(t, k)
	const reactors, senders, each = 64, 8, 500
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
			}
		}()
	}
	wg.Wait()
	r.wait(t, "every message handled", func(tags []uint32) bool { return len(tags) == senders*each })
	counts := map[uint32]int{}
	for _, tag := range r.tags {
		counts[tag]++
	}
	for s := range senders {
		if counts[uint32(s)] != each {
			t.Fatalf("sender %d: %d messages handled, want %d", s, counts[uint32(s)], each)
		}
	}
}

// One sender's messages reach one receiver in the order sent.
func TestPerSenderOrder(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	p := spawn(t, k, recordingReactor(t, k), Spec{})
	const n = 5000
	for i := range n {
		hostSend(t, k, p, uint32(i))
	}
	r.wait(t, "all messages", func(tags []uint32) bool { return len(tags) == n })
	for i, tag := range r.tags {
		if tag != uint32(i) {
			t.Fatalf("message %d arrived as number %d", tag, i)
		}
	}
}

// A monitor delivers exactly one down message when its target ends; a
// link kills the linked process unless it traps exits, in which case the
// exit arrives as a message.
func TestMonitorsAndLinks(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	mod := recordingReactor(t, k)
	watcher, target := spawn(t, k, mod, Spec{}), spawn(t, k, mod, Spec{})
	if _, err := watcher.Monitor(target); err != nil {
		t.Fatal(err)
	}
	target.Kill("boom")
	r.wait(t, "one down message", func(tags []uint32) bool { return len(tags) == 1 && tags[0] == TagDown })

	a, b := spawn(t, k, mod, Spec{}), spawn(t, k, mod, Spec{})
	if err := a.Link(b); err != nil {
		t.Fatal(err)
	}
	b.Kill("boom")
	if e := waitExit(t, a); e.Kind != isleapi.ExitKilled || e.Killed != "link: killed: boom" {
		t.Fatalf("linked process: %v", e)
	}

	c, d := spawn(t, k, mod, Spec{}), spawn(t, k, mod, Spec{})
	c.TrapExits(true)
	if err := c.Link(d); err != nil {
		t.Fatal(err)
	}
	d.Kill("boom")
	r.wait(t, "the exit as a message", func(tags []uint32) bool { return len(tags) == 2 && tags[1] == TagExit })
	if c.Ended() {
		t.Fatal("a process trapping exits was killed by its link")
	}
	// Monitoring or linking to an ended process signals at once: noproc.
	if _, err := watcher.Monitor(target); err != nil {
		t.Fatal(err)
	}
	r.wait(t, "a noproc down", func(tags []uint32) bool { return len(tags) == 3 && tags[2] == TagDown })
}

// Demonitor removes a down message already queued, and the mailbox's
// bookkeeping stays right: the vacated slot is cleared and room is
// announced to waiting senders.
func TestDemonitorFlushesItsDown(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	mod := recordingReactor(t, k)
	watcher, target := spawn(t, k, mod, Spec{Mailbox: 1}), spawn(t, k, mod, Spec{})
	ref, err := watcher.Monitor(target)
	if err != nil {
		t.Fatal(err)
	}
	// Hold the watcher's turns: make it look running, so messages queue;
	// then let it run again, or it could never be torn down.
	watcher.mu.Lock()
	watcher.mbox.sched = schedRunning
	watcher.mu.Unlock()
	defer func() {
		watcher.mu.Lock()
		watcher.mbox.sched = schedQueued
		watcher.mu.Unlock()
		k.sched.ready(watcher, nil)
	}()
	target.Kill("boom")
	waitExit(t, target)
	// Monitors are told after the exit is published (end.go).
	testwasm.WaitFor(t, "the down message queued at the watcher", func() bool {
		watcher.mu.Lock()
		defer watcher.mu.Unlock()
		return watcher.mbox.len() > 0
	})
	watcher.mu.Lock()
	if watcher.mbox.len() != 1 {
		watcher.mu.Unlock()
		t.Fatalf("%d messages queued; want the down", watcher.mbox.len())
	}
	space := make(chan struct{})
	watcher.mbox.space = space
	watcher.mu.Unlock()
	if !watcher.Demonitor(ref) {
		t.Fatal("demonitor: not an active monitor")
	}
	watcher.mu.Lock()
	n, acct := watcher.mbox.len(), watcher.mbox.acct
	q := watcher.mbox.q[:cap(watcher.mbox.q)]
	watcher.mu.Unlock()
	if n != 0 || acct != 0 {
		t.Fatalf("after demonitor: %d messages, %d bytes accounted", n, acct)
	}
	for _, m := range q {
		if m != nil {
			t.Fatal("the vacated slot still points at the message")
		}
	}
	select {
	case <-space:
	default:
		t.Fatal("senders waiting for room were not told")
	}
}

// Messages sent to a service with no instance wait, and reach the next
// instance in order, after its init message.
func TestServiceHandsWaitingMessagesOn(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	mod := recordingReactor(t, k)
	svc := NewService("s")
	for i := range 10 {
		hostSend(t, k, svc, uint32(i))
	}
	spawn(t, k, mod, Spec{Service: svc, Init: NewMessage(0, nil)})
	r.wait(t, "the waiting messages", func(tags []uint32) bool { return len(tags) == 11 })
	if r.tags[0] != TagInit {
		t.Fatalf("first message %#x; want init", r.tags[0])
	}
	for i, tag := range r.tags[1:] {
		if tag != uint32(i) {
			t.Fatalf("message %d arrived as number %d", tag, i)
		}
	}
}

// spinningReactor is a reactor whose every turn loops for ever.
func spinningReactor(t *testing.T, k *Kernel) *Module {
	t.Helper()
	body := []byte{0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b} // loop; br 0; end; end
	return loadReactor(t, k, "spinner", nil, nil, body, nil)
}

// Reactors whose turns never end, more of them than there are workers, do
// not keep other reactors from running: a long turn gives its worker up to
// the work that waits.
func TestEndlessTurnsDoNotStarveOthers(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	spin := spinningReactor(t, k)
	for range 2*runtime.GOMAXPROCS(0) + 1 {
		hostSend(t, k, spawn(t, k, spin, Spec{}), 1)
	}
	p := spawn(t, k, recordingReactor(t, k), Spec{})
	for i := range 100 {
		hostSend(t, k, p, uint32(i))
	}
	r.wait(t, "the other reactor's 100 messages", func(tags []uint32) bool { return len(tags) == 100 })
}

// A monitor on a service fires when the service is given up, not when its
// instance crashes and another takes its place.
func TestServiceMonitorFiresOnlyWhenGivenUp(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	mod := recordingReactor(t, k)
	svc := NewService("s")
	first := spawn(t, k, mod, Spec{Service: svc})
	watcher := spawn(t, k, mod, Spec{})
	if _, err := watcher.Monitor(svc); err != nil {
		t.Fatal(err)
	}
	first.Kill("crash")
	waitExit(t, first)
	spawn(t, k, mod, Spec{Service: svc}) // the restart
	hostSend(t, k, svc, 7)
	r.wait(t, "the message to reach the new instance", func(tags []uint32) bool { return len(tags) == 1 && tags[0] == 7 })
	svc.End(isleapi.Exit{Kind: isleapi.ExitKilled, Killed: "gave up"})
	r.wait(t, "one down message", func(tags []uint32) bool { return len(tags) == 2 && tags[1] == TagDown })
	if err := k.HostSend(context.Background(), svc, NewMessage(1, nil), false); err != ErrGone {
		t.Fatalf("send to a service given up: %v", err)
	}
}

// A reactor is not the scheduler's until its spawn is done. Here its start
// function, still running inside the spawn, gets a message through the
// service it was attached to and a kill from its tree: neither may run a
// turn of the half-made instance. The message is then handled once by the
// finished reactor, or the kill ends it; either way, exactly once.
func TestReactorIsNotScheduledBeforeItsSpawnEnds(t *testing.T) {
	for _, kill := range []bool{false, true} {
		r := newRecorder()
		k := recordingKernel(t, r)
		svc := NewService("s")
		var blocked func()
		b := k.Runtime().NewHostModuleBuilder("hold").NewFunctionBuilder().
			WithGoFunction(api.GoFunc(func(context.Context, []uint64) { blocked() }), nil, nil).Export("now")
		if err := k.AddHostModule(context.Background(), b, "hold"); err != nil {
			t.Fatal(err)
		}
		blocked = func() {
			// The send must not queue the reactor on a worker, or a worker
			// would run a turn of an instance that does not exist yet.
			hostSend(t, k, svc, 9)
			p := svc.Current()
			if kill {
				p.Kill("killed while starting")
			}
			p.mu.Lock()
			sched, queued := p.mbox.sched, p.mbox.len()
			p.mu.Unlock()
			if sched != schedRunning || queued != 1 {
				t.Errorf("during its start function: scheduler state %d, %d messages queued; want it held by its spawn with the message queued", sched, queued)
			}
		}
		mod := startingReactor(t, k)
		p, err := k.Spawn(context.Background(), mod, Spec{Service: svc})
		if err != nil {
			t.Fatal(err)
		}
		if kill {
			if e := waitExit(t, p); e.Kind != isleapi.ExitKilled {
				t.Fatalf("killed while starting: %v", e)
			}
			continue
		}
		r.wait(t, "the message sent during the start function", func(tags []uint32) bool { return len(tags) == 1 && tags[0] == 9 })
		p.Kill("test over")
		waitExit(t, p)
	}
}

// startingReactor is recordingReactor with a start function that calls
// hold.now.
func startingReactor(t *testing.T, k *Kernel) *Module {
	t.Helper()
	m := &wasm.Module{}
	m.Put(wasm.SectionType, wasm.EncodeTypes([]wasm.FuncType{
		{Params: []wasm.ValType{wasm.I32}},
		{Params: []wasm.ValType{wasm.I32, wasm.I32, wasm.I32, wasm.I32}},
		{},
	}))
	m.Put(wasm.SectionImport, wasm.EncodeImports([]wasm.Import{
		{Module: "test", Name: "seen", Kind: wasm.KindFunc, Func: 0},
		{Module: "hold", Name: "now", Kind: wasm.KindFunc, Func: 2},
	}))
	m.Put(wasm.SectionFunction, wasm.EncodeIndices([]uint32{1, 2}))
	m.Put(wasm.SectionMemory, wasm.EncodeMemories([]wasm.Limits{{Min: 1}}))
	m.Put(wasm.SectionExport, wasm.EncodeExports([]wasm.Export{
		{Name: "memory", Kind: wasm.KindMemory, Index: 0},
		{Name: "isle_handle", Kind: wasm.KindFunc, Index: 2},
	}))
	m.Put(wasm.SectionStart, wasm.AppendU32(nil, 3))
	handle := []byte{0x00, 0x20, 0x01, 0x10, 0x00, 0x0b} // local.get 1; call seen; end
	start := []byte{0x00, 0x10, 0x01, 0x0b}              // call hold.now; end
	m.Put(wasm.SectionCode, wasm.EncodeCode([]wasm.Code{{Body: handle}, {Body: start}}))
	mod, err := k.Load(context.Background(), "starting", m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// A process that dies holding many monitors on itself builds no down
// messages for them: it would refuse each one. Before, 10,000 such
// monitors made at least 30,000 allocations as it died, thrown away.
func TestNoDownsForAnEndedWatcher(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	mod := recordingReactor(t, k)
	p, watcher := spawn(t, k, mod, Spec{}), spawn(t, k, mod, Spec{})
	// Monitors are told newest first, so the watcher's down, the first
	// monitor made, arrives after p has dealt with all of its own.
	if _, err := watcher.Monitor(p); err != nil {
		t.Fatal(err)
	}
	const n = 10_000
	for range n {
		if _, err := p.Monitor(p); err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p.Kill("boom")
	r.wait(t, "the watcher's down", func(tags []uint32) bool { return len(tags) == 1 && tags[0] == TagDown })
	runtime.ReadMemStats(&after)
	if allocs := after.Mallocs - before.Mallocs; allocs >= n {
		t.Errorf("dying with %d monitors on itself took %d allocations", n, allocs)
	}
}

// The watches of an ended target are unlinked as they are told: a watcher
// keeps its watch until it takes the down, and a watch still linked kept
// every other watch on the target, whoever held them.
func TestDownsUnlinkTheWatches(t *testing.T) {
	var l watchList
	told := 0
	ws := make([]*watch, 3)
	for i := range ws {
		ws[i] = &watch{notify: func(isleapi.Exit) { told++ }}
		l.add(ws[i])
	}
	downAll(l.take(), isleapi.Exit{})
	if told != len(ws) {
		t.Fatalf("%d of %d watches told", told, len(ws))
	}
	for i, w := range ws {
		if w.prev != nil || w.next != nil || w.listed {
			t.Errorf("watch %d is still linked after its down", i)
		}
	}
}
