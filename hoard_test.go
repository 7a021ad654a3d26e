package isle_test

import (
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// hoardKids is how many memoryless reactors a hoarding tree spawns: each
// costs its tree only its fixed share, so without a charge for what it
// hoards, a 16 MiB tree of them held 100 times a full table's 2.5 MiB.
const hoardKids = 100

// linkKids is how many memoryless reactors link every pair of them.
const linkKids = 400

// hoardBound is the memory limit or the ceiling the hoarding trees run
// under.
const hoardBound = 16 << 20

// liveHeap is the Go heap in use after a full collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// hoardResult is what a hoarding tree made the host hold.
type hoardResult struct {
	made, spawned, failed uint32
	heap                  int64  // Go heap growth, in bytes
	tree                  uint64 // what the tree is charged
	node                  uint64 // what the node is charged (Snapshot)
}

// tagHoard is the tag the roots call their kids with.
const tagHoard = 1

// hoard runs the guest root over kids reactors of kid (a hostile guest
// that hoards something until the kernel refuses it), calling each with
// tag, on a node under ceiling (0: none) and in a tree limited to limit
// bytes (0: none), and reports, once every kid has answered, what the
// host holds for the tree. root is
// testdata/wat/hoardroot.wat, or one that works as it does.
func hoard(t *testing.T, root, kid string, kids, tag uint32, ceiling int64, limit uint64) hoardResult {
	t.Helper()
	cfg := nodeConfig(t)
	cfg.MaxMemory = ceiling
	node := startNode(t, cfg)
	rootMod := load(t, node, testwasm.WAT(t, root))
	kidMod := load(t, node, testwasm.WAT(t, kid))
	ctx := testwasm.Context(t)
	h0 := liveHeap()
	p, err := node.Spawn(ctx, rootMod, isle.Grants{Caps: map[string]isle.Capability{
		"spawner": isle.SpawnerCap(map[string]*isle.Module{"kid": kidMod}),
	}}, isle.Limits{Memory: limit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	var req [8]byte
	binary.LittleEndian.PutUint32(req[0:], kids)
	binary.LittleEndian.PutUint32(req[4:], tag)
	answer, err := p.Call(ctx, isle.Message{Tag: 1, Data: req[:]})
	if err != nil {
		exit, _ := p.Wait(ctx)
		t.Fatalf("the root: %v (%v)", err, exit)
	}
	if len(answer.Data) != 12 {
		t.Fatalf("the root answered %d bytes, want 12", len(answer.Data))
	}
	h1 := liveHeap()
	r := hoardResult{
		made:    binary.LittleEndian.Uint32(answer.Data[0:]),
		spawned: binary.LittleEndian.Uint32(answer.Data[4:]),
		failed:  binary.LittleEndian.Uint32(answer.Data[8:]),
		tree:    p.Stats().Tree.Memory,
		node:    node.Snapshot().Memory,
	}
	// The baseline is the lower of the heap before the tree and after it:
	// an earlier test's node may still have been going at the first.
	p.Kill()
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	testwasm.WaitFor(t, "the tree to end", func() bool { return len(node.Snapshot().Processes) == 0 })
	r.heap = h1 - min(h0, liveHeap())
	t.Logf("%d kids (%d calls failed) made %d; Go heap +%.1f MiB; tree charged %.1f MiB, node %.1f MiB",
		r.spawned, r.failed, r.made, float64(r.heap)/(1<<20), float64(r.tree)/(1<<20), float64(r.node)/(1<<20))
	if r.spawned != kids || r.failed != 0 {
		t.Fatalf("%d kids spawned and %d calls failed, want %d and 0: the tree never hoarded", r.spawned, r.failed, kids)
	}
	return r
}

// unchargedPerProcess is what an idle memoryless reactor holds on the
// Go heap beyond its fixed share of 12 KiB: TestHeapPerProcess bounds
// its heap at 20 KiB.
const unchargedPerProcess = 8 << 10

// checkHoard fails the test unless what a hoarding tree made the host
// hold, per bytes of Go heap at least for each of the made things, is
// charged to it, and within its bound.
func checkHoard(t *testing.T, r hoardResult, per int64, bound int64) {
	t.Helper()
	if r.heap > 2*bound {
		t.Errorf("the Go heap grew %.0f MiB for a tree bounded at %d MiB", float64(r.heap)/(1<<20), bound>>20)
	}
	if over := r.heap - int64(r.tree); over > int64(r.spawned)*unchargedPerProcess {
		t.Errorf("the Go heap grew %.1f MiB more than the tree is charged: more than its %d processes hold uncharged", float64(over)/(1<<20), r.spawned)
	}
	if held := int64(r.made) * per; held > int64(r.tree) {
		t.Errorf("the kids hold %d, at least %.1f MiB of Go heap, but their tree is charged %.1f MiB", r.made, float64(held)/(1<<20), float64(r.tree)/(1<<20))
	}
	if r.tree > uint64(bound) {
		t.Errorf("the tree is charged %d bytes, past the bound of %d", r.tree, bound)
	}
}

// hoardUnder runs hoard twice, in a tree limited to hoardBound on a node
// without a ceiling and in an unlimited tree on a node whose ceiling is
// hoardBound, and checks both (checkHoard) and that the ceiling held.
func hoardUnder(t *testing.T, root, kid string, kids uint32, per int64) {
	t.Helper()
	for _, c := range []struct {
		name    string
		ceiling int64
		limit   uint64
	}{{"tree limit", 0, hoardBound}, {"node ceiling", hoardBound, 0}} {
		t.Run(c.name, func(t *testing.T) {
			r := hoard(t, root, kid, kids, tagHoard, c.ceiling, c.limit)
			checkHoard(t, r, per, hoardBound)
			if c.ceiling != 0 && r.node > uint64(c.ceiling) {
				t.Errorf("the node is charged %d bytes, past its ceiling of %d", r.node, c.ceiling)
			}
		})
	}
}

// A tree of memoryless reactors that each dup their self handle until dup
// fails holds no more than its limit, or the node's ceiling: each
// handle table is charged to its process as it grows. (From an outside
// review: a 16 MiB tree of 1,001 such reactors was charged 11.8 MiB while
// the Go heap grew 2.8 GB.)
func TestHandleHoardIsCharged(t *testing.T) {
	const perHandle = 40 // a slot of a table's array
	hoardUnder(t, "testdata/wat/hoardroot.wat", "testdata/wat/dupfill.wat", hoardKids, perHandle)
}

// A tree of memoryless reactors that each monitor themselves until
// monitor fails holds no more than its limit, or the node's ceiling.
// (From an outside review: 101 reactors of 65,536 monitors each grew the
// Go heap 867 MB.)
func TestMonitorHoardIsCharged(t *testing.T) {
	const perMonitor = 100 // the watch and its map slot: at least 101 bytes measured
	hoardUnder(t, "testdata/wat/hoardroot.wat", "testdata/wat/monitorfill.wat", hoardKids, perMonitor)
}

// A tree of memoryless reactors that link every pair of them, each until
// link fails, holds no more than its limit, or the node's ceiling: each
// end of a link is charged to the process that holds it. Links are made
// in pairs, so n processes hold n² of them for n fixed shares; without
// their charge, 400 reactors held all 160,000, 8.5 MiB past what their
// tree was charged.
func TestLinkHoardIsCharged(t *testing.T) {
	const perLink = 2 * 31 // an entry in each end's map: at least 31 bytes measured
	hoardUnder(t, "testdata/wat/linkroot.wat", "testdata/wat/linkfill.wat", linkKids, perLink)
}

// deadKids is how many kids TestDeadProcessesKeepLittle's root outlives:
// each makes 65,536 monitors, which the race detector makes slow.
var deadKids = map[bool]uint32{false: 16, true: 4}[raceDetector]

// deadKeeps bounds the Go heap a dead process keeps while a live one
// holds its handle and a monitor on it: its record and its exit, about a
// kilobyte measured.
const deadKeeps = 16 << 10

// settledHeap is liveHeap once sync.Pool has let go of what it held: a
// dead process's queued messages are recycled there, and a pool keeps
// what it holds through one collection.
func settledHeap() int64 {
	runtime.GC()
	return liveHeap()
}

// spawnWatchroot starts testdata/wat/watchroot.wat, whose kids are the
// module of kidWat.
func spawnWatchroot(t *testing.T, node *isle.Node, kidWat string) *isle.Process {
	t.Helper()
	rootMod := load(t, node, testwasm.WAT(t, "testdata/wat/watchroot.wat"))
	kidMod := load(t, node, testwasm.WAT(t, kidWat))
	root, err := node.Spawn(testwasm.Context(t), rootMod, isle.Grants{Caps: map[string]isle.Capability{
		"spawner": isle.SpawnerCap(map[string]*isle.Module{"kid": kidMod}),
	}}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(root.Kill)
	return root
}

// A dead process keeps little, however much it held when it died, while
// its parent keeps its handle and a monitor on it whose down it has not
// taken. Each kid dies with a full mailbox and 65,536 monitors on itself,
// linked through each other with the parent's: the parent's monitor kept
// them all, and 16 kids grew the Go heap 82.8 MiB, their tree charged
// 0.08 MiB.
func TestDeadProcessesKeepLittle(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	ctx := testwasm.Context(t)
	h0, m0 := settledHeap(), node.Snapshot().Memory
	root := spawnWatchroot(t, node, "testdata/wat/deadhoard.wat")
	var req [4]byte
	binary.LittleEndian.PutUint32(req[:], deadKids)
	answer, err := root.Call(ctx, isle.Message{Tag: 1, Data: req[:]})
	if err != nil || len(answer.Data) != 12 {
		exit, _ := root.Wait(ctx)
		t.Fatalf("the root answered %d bytes, %v (%v); want 12", len(answer.Data), err, exit)
	}
	spawned, monitored, failed := binary.LittleEndian.Uint32(answer.Data[0:]), binary.LittleEndian.Uint32(answer.Data[4:]), binary.LittleEndian.Uint32(answer.Data[8:])
	if spawned != deadKids || monitored != deadKids || failed != deadKids {
		t.Fatalf("the root spawned %d kids, monitored %d and saw %d die, want %d of each", spawned, monitored, failed, deadKids)
	}
	// A kid's down is its last: the root's monitor is older than the
	// kid's own, and monitors are told newest first.
	testwasm.WaitFor(t, "the kids' downs", func() bool { return root.Stats().Queued == int(deadKids) })
	h1, st := settledHeap(), root.Stats()
	// 65,536 monitors are charged 8 MiB.
	if want := uint64(4 << 20); st.Tree.PeakMemory < want {
		t.Fatalf("the tree peaked at %.1f MiB, want at least %.0f: the kids did not hoard", float64(st.Tree.PeakMemory)/(1<<20), float64(want)/(1<<20))
	}
	root.Kill()
	if _, err := root.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	testwasm.WaitFor(t, "the tree to end", func() bool { return len(node.Snapshot().Processes) == 0 })
	h2, m2 := settledHeap(), node.Snapshot().Memory
	t.Logf("%d kids dead (their tree peaked at %.1f MiB): Go heap +%.2f MiB with the root holding them (tree charged %.2f MiB), +%.2f MiB once it ended",
		deadKids, float64(st.Tree.PeakMemory)/(1<<20), float64(h1-h0)/(1<<20), float64(st.Tree.Memory)/(1<<20), float64(h2-h0)/(1<<20))
	// 2 MiB of slack for the node's own churn: a kid's monitors are 5 MiB.
	if bound := int64(deadKids)*deadKeeps + int64(st.Tree.Memory) + 2<<20; h1-h0 > bound {
		t.Errorf("%d dead kids grew the Go heap %.1f MiB while their root held them, want under %.1f: a dead process keeps what it held",
			deadKids, float64(h1-h0)/(1<<20), float64(bound)/(1<<20))
	}
	if h2-h0 > 2<<20 {
		t.Errorf("the Go heap is %.1f MiB up once the tree ended, want under 2", float64(h2-h0)/(1<<20))
	}
	if m2 != m0 {
		t.Errorf("the node is charged %d bytes once the tree ended, want %d as before it", m2, m0)
	}
}

// A process that exits keeps, while a live one holds its handle and an
// untaken monitor on it, only its record: what only a running process
// reads (its grants' names, its WASI state) goes when it ends. 5,000 kids
// of exit.wat under a root that holds them each kept 1.9 KiB of the Go
// heap, and now keep 1.3, of which their root is charged 0.5 for its
// handles, monitors and their downs.
func TestCorpsesKeepOnlyTheirRecord(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	ctx := testwasm.Context(t)
	h0 := settledHeap()
	root := spawnWatchroot(t, node, "testdata/wat/exit.wat")
	const kids = 5000
	var req [4]byte
	binary.LittleEndian.PutUint32(req[:], kids)
	if _, err := root.Call(ctx, isle.Message{Tag: 1, Data: req[:]}); err != nil {
		t.Fatal(err)
	}
	testwasm.WaitFor(t, "the kids' downs", func() bool { return root.Stats().Queued == kids })
	kept, charged := (settledHeap()-h0)/kids, int64(root.Stats().Tree.Memory)/kids
	t.Logf("a dead kid keeps %d bytes of the Go heap; its root is charged %d for it", kept, charged)
	// The record is 768 bytes, its down and monitor 400, the root's
	// handle slot 40; before, its grants and WASI state added 470.
	if kept > 1536 {
		t.Errorf("a dead kid keeps %d bytes of the Go heap while its root holds it, want at most 1,536", kept)
	}
}
