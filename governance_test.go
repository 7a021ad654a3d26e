package isle_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
	"github.com/isle-run/isle/internal/wasm"
)

// These tests attack the node's governance with hostile guests
// (testdata/c/hostile.c and friends) and check from outside what the node
// did: its accounts, its process table, how long a kill took to land, and
// whether an unrelated process kept answering.

// hostile starts hostile.c in mode args with limits, as the root of a tree
// whose spawner holds hostile.c itself and the start-blocking reactor.
func hostile(t *testing.T, node *isle.Node, l isle.Limits, args ...string) (*isle.Process, *lines) {
	t.Helper()
	mod := load(t, node, testwasm.C(t, "testdata/c/hostile.c", "-O2"))
	startrecv := load(t, node, testwasm.WAT(t, "testdata/wat/startrecv.wat"))
	out := newLines()
	p, err := node.Spawn(context.Background(), mod, isle.Grants{
		Args:   append([]string{"hostile"}, args...),
		Stdout: out, Stderr: out,
		Spawn: map[string]*isle.Module{"hostile": mod, "startrecv": startrecv},
	}, l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p, out
}

// lines collects a guest's output and lets a test wait for a line.
type lines struct {
	mu   sync.Mutex
	buf  strings.Builder
	more chan struct{} // closed and replaced at every write
}

func newLines() *lines { return &lines{more: make(chan struct{})} }

// Write implements io.Writer.
func (l *lines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	close(l.more)
	l.more = make(chan struct{})
	return len(b), nil
}

// wait returns the first submatches of re in the output, waiting for them
// until ctx ends.
func (l *lines) wait(t *testing.T, ctx context.Context, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	for {
		l.mu.Lock()
		m, more, all := rx.FindStringSubmatch(l.buf.String()), l.more, l.buf.String()
		l.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-more:
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %q in the guest's output %q: %v", re, all, ctx.Err())
		}
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testCtx is the context of a test's waits: see testwasm.Context.
func testCtx(t *testing.T) context.Context { return testwasm.Context(t) }

// Under a tree memory limit, a parent spawning children that each take
// all the memory they can gets them only as much as the limit, together:
// the tree's account never passes it, however many children there are.
func TestTreeMemoryLimitBoundsDescendants(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	const limit = 32 << 20
	root, out := hostile(t, node, isle.Limits{Memory: limit}, "hogs")
	out.wait(t, ctx, `hogs done`)
	var hogs, most int64
	for _, m := range regexp.MustCompile(`hog (\d+) MiB`).FindAllStringSubmatch(out.String(), -1) {
		hogs, most = hogs+1, max(most, atoi(t, m[1]))
	}
	s := root.Stats().Tree
	if s.PeakMemory > limit || most > limit>>20 {
		t.Fatalf("the tree peaked at %d bytes, and one hog took %d MiB; the limit is %d", s.PeakMemory, most, limit)
	}
	// Each hog asks for memory until it is refused, so the tree was full
	// at least once: within about a mebibyte (the hogs' step, with
	// malloc's own). How the hogs shared it depends on how they ran.
	if hogs == 0 || s.PeakMemory < limit-2<<20 {
		t.Fatalf("%d hogs reported; the tree peaked at %d bytes: the attack never filled its limit of %d", hogs, s.PeakMemory, limit)
	}
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// A chain of generations, each spinning and then spawning the next, shares
// one fuel budget: it ends when the budget is spent, not when each
// generation has spent a fresh one.
func TestTreeFuelBudgetBoundsDescendants(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	const budget = 50_000_000
	root, _ := hostile(t, node, isle.Limits{Fuel: budget}, "chain")
	exit, err := root.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	testwasm.WaitFor(t, "the chain to end", func() bool { return node.Processes() == 0 })
	s := root.Stats().Tree
	if s.Fuel > budget || s.Fuel < budget/2 {
		t.Fatalf("the chain spent %d fuel in all; its budget was %d", s.Fuel, budget)
	}
	if exit.Kind == api.ExitNormal {
		t.Fatalf("the chain's root exited normally (%v); it should have died with its budget", exit)
	}
}

// When a root is killed, times out or its context ends, every descendant
// ends too, however it is blocked.
func TestRootEndEndsItsTree(t *testing.T) {
	for _, how := range []string{"kill", "timeout", "context"} {
		t.Run(how, func(t *testing.T) {
			ctx := testCtx(t)
			node := newNode(t)
			l := isle.Limits{}
			if how == "timeout" {
				l.Timeout = time.Second
			}
			mod := load(t, node, testwasm.C(t, "testdata/c/hostile.c", "-O2"))
			out := newLines()
			spawnCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			root, err := node.Spawn(spawnCtx, mod, isle.Grants{Args: []string{"hostile", "sleepers", "50"},
				Stdout: out, Spawn: map[string]*isle.Module{"hostile": mod}}, l)
			if err != nil {
				t.Fatal(err)
			}
			out.wait(t, ctx, "sleepers up")
			if n := root.Stats().Tree.Processes; n != 51 {
				t.Fatalf("%d processes in the tree; want the root and 50 sleepers", n)
			}
			switch how {
			case "kill":
				root.Kill()
			case "context":
				cancel()
			}
			if exit, err := root.Wait(ctx); err != nil || exit.Kind != api.ExitKilled {
				t.Fatalf("root: %v, %v", exit, err)
			}
			testwasm.WaitFor(t, "every sleeper to end with the root", func() bool { return node.Processes() == 0 })
		})
	}
}

// Linking to a dead process over and over, trapping exits, queues a noproc
// signal each time; those signals are charged like messages, so the
// process gets ELIMIT at its memory limit instead of growing the node.
func TestQueuedSignalsAreCharged(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	const limit = 8 << 20
	root, out := hostile(t, node, isle.Limits{Memory: limit}, "links")
	m := out.wait(t, ctx, `links (\d+) then (-?\d+)`)
	if m[2] != "-7" {
		t.Fatalf("linking stopped with %s; want ELIMIT (-7)", m[2])
	}
	if n := atoi(t, m[1]); n < 1000 {
		t.Fatalf("only %d links before ELIMIT: the test did not exercise queued signals", n)
	}
	if _, err := root.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if s := root.Stats(); s.PeakMemory > limit {
		t.Fatalf("the process peaked at %d bytes; its limit is %d", s.PeakMemory, limit)
	}
}

// Reusing one handle slot 100,000 times never gives back the number of a
// handle closed before.
func TestHandleNumbersNeverRepeat(t *testing.T) {
	ctx := testCtx(t)
	_, out := hostile(t, newNode(t), isle.Limits{}, "alias")
	m := out.wait(t, ctx, `alias (\d+) dups, (\d+) repeats, error (-?\d+)`)
	if m[1] != "100000" || m[2] != "0" {
		t.Fatalf("%s dups, %s repeats (error %s); want 100000 dups and no repeat", m[1], m[2], m[3])
	}
}

// A guest cannot send a system tag: forging an init message is misuse.
func TestGuestCannotForgeSystemTags(t *testing.T) {
	ctx := testCtx(t)
	root, out := hostile(t, newNode(t), isle.Limits{}, "forge")
	exit, err := root.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Kind != api.ExitAbandoned || exit.Abandon.Cause != api.CauseMisuse ||
		!strings.Contains(exit.Abandon.Detail, "tag 0xffff0003 is reserved for the system") {
		t.Fatalf("forging an init message: %v", exit)
	}
	if strings.Contains(out.String(), "forged") {
		t.Fatal("the forged send returned")
	}
}

// A child's init message is in its mailbox before it first runs, every
// time.
func TestInitIsQueuedBeforeTheChildRuns(t *testing.T) {
	ctx := testCtx(t)
	_, out := hostile(t, newNode(t), isle.Limits{}, "initfirst", "3000")
	if m := out.wait(t, ctx, `initfirst (\d+) of (\d+) missed`); m[1] != "0" || m[2] != "3000" {
		t.Fatalf("%s of %s children missed their init message", m[1], m[2])
	}
}

// unreadPipe returns the write end of a pipe nobody reads, and a function
// reporting how many bytes wait in it.
func unreadPipe(t *testing.T) (*os.File, func() int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return w, func() int {
		n, err := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ) // FIONREAD
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// A guest blocked writing to a stdout nobody reads is killed at once by
// Kill, its timeout, its context, and Node.Close.
func TestKillReachesABlockedWrite(t *testing.T) {
	for _, how := range []string{"kill", "timeout", "context", "close"} {
		t.Run(how, func(t *testing.T) {
			ctx := testCtx(t)
			node, err := isle.NewNode(ctx, isle.Config{CacheDir: testwasm.NodeCache(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer node.Close(ctx)
			mod := load(t, node, testwasm.C(t, "testdata/c/hostile.c", "-O2"))
			w, queued := unreadPipe(t)
			l := isle.Limits{}
			if how == "timeout" {
				l.Timeout = 500 * time.Millisecond
			}
			spawnCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			p, err := node.Spawn(spawnCtx, mod, isle.Grants{Args: []string{"hostile", "stdout"}, Stdout: w}, l)
			if err != nil {
				t.Fatal(err)
			}
			testwasm.WaitFor(t, "the guest to fill the pipe", func() bool { return queued() >= 65536 })
			start := time.Now()
			switch how {
			case "kill":
				p.Kill()
			case "context":
				cancel()
			case "close":
				if err := node.Close(ctx); err != nil {
					t.Fatalf("Node.Close with a guest blocked on stdout: %v", err)
				}
			}
			exit, err := p.Wait(ctx)
			if err != nil || exit.Kind != api.ExitKilled {
				t.Fatalf("the blocked writer: %v, %v", exit, err)
			}
			t.Logf("%s landed %v after it was asked for", how, time.Since(start))
		})
	}
}

// Reactors blocked writing to an unread stdout, more of them than there
// are threads for turns, do not keep an unrelated reactor from answering.
func TestBlockedReactorsDoNotStarveOthers(t *testing.T) {
	ctx := testCtx(t)
	node := newNode(t)
	blocker := load(t, node, reactor(t, "testdata/c/blockout.c"))
	w, queued := unreadPipe(t)
	var blocked []*isle.Process
	for range runtime.GOMAXPROCS(0) + 2 {
		p, err := node.Spawn(ctx, blocker, isle.Grants{Stdout: w}, isle.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Send(ctx, isle.Message{Tag: 1}); err != nil {
			t.Fatal(err)
		}
		blocked = append(blocked, p)
	}
	testwasm.WaitFor(t, "the blockers to fill the pipe", func() bool { return queued() >= 65536 })
	echo, err := node.Spawn(ctx, load(t, node, reactor(t, "testdata/c/echo.c")), isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := echo.Call(ctx, isle.Message{Tag: 1, Data: []byte("ping")}); err != nil {
			t.Fatalf("ping %d with %d reactors blocked on stdout: %v", i, len(blocked), err)
		}
	}
	for _, p := range blocked {
		p.Kill()
	}
	for _, p := range blocked {
		if exit, err := p.Wait(ctx); err != nil || exit.Kind != api.ExitKilled {
			t.Fatalf("blocked reactor: %v, %v", exit, err)
		}
	}
}

// A start function blocked in recv, inside its spawner's spawn call, ends
// with its tree's timeout and with the Go host's context.
func TestBlockedStartFunctionEnds(t *testing.T) {
	t.Run("child of a timed-out root", func(t *testing.T) {
		ctx := testCtx(t)
		node := newNode(t)
		root, out := hostile(t, node, isle.Limits{Timeout: time.Second}, "spawnstart")
		out.wait(t, ctx, "spawning")
		exit, err := root.Wait(ctx)
		if err != nil || exit.Killed != "timeout" {
			t.Fatalf("root: %v, %v", exit, err)
		}
		testwasm.WaitFor(t, "the blocked child to end", func() bool { return node.Processes() == 0 })
	})
	t.Run("spawned by the host", func(t *testing.T) {
		ctx := testCtx(t)
		node := newNode(t)
		mod := load(t, node, testwasm.WAT(t, "testdata/wat/startrecv.wat"))
		spawnCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		_, err := node.Spawn(spawnCtx, mod, isle.Grants{}, isle.Limits{})
		if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
			t.Fatalf("spawn of a start function that never returns: %v", err)
		}
		if n := node.Processes(); n != 0 {
			t.Fatalf("%d processes left", n)
		}
	})
}

// nestedBlocks is a command whose _start nests n empty blocks: the shape
// that held `isle run --timeout 1s` for 9 to 14 s in wazero's compiler.
func nestedBlocks(n int) []byte {
	m := &wasm.Module{}
	m.Put(wasm.SectionType, wasm.EncodeTypes([]wasm.FuncType{{}}))
	m.Put(wasm.SectionFunction, wasm.EncodeIndices([]uint32{0}))
	m.Put(wasm.SectionExport, wasm.EncodeExports([]wasm.Export{{Name: "_start", Kind: wasm.KindFunc, Index: 0}}))
	body := []byte{0x00} // no locals
	for range n {
		body = append(body, 0x02, 0x40) // block (empty type)
	}
	for range n + 1 {
		body = append(body, 0x0b) // end
	}
	m.Put(wasm.SectionCode, wasm.EncodeCode([]wasm.Code{{Body: body}}))
	return m.Encode()
}

// A module of 45,000 nested blocks is refused before wazero sees it, with
// an error naming the limit, in far less time than it would take to
// compile.
func TestOversizedModuleIsRefusedAtOnce(t *testing.T) {
	node := newNode(t)
	start := time.Now()
	_, err := node.LoadModule(testCtx(t), "nested.wasm", nestedBlocks(45_000))
	if !errors.Is(err, api.ErrModuleShape) || !strings.Contains(err.Error(), "nests blocks 4097 deep, over the limit of 4096") {
		t.Fatalf("loading 45,000 nested blocks: %v", err)
	}
	t.Logf("refused in %v", time.Since(start))
	// The same shape within the limit loads.
	if _, err := node.LoadModule(testCtx(t), "nested.wasm", nestedBlocks(1000)); err != nil {
		t.Fatalf("1,000 nested blocks: %v", err)
	}
}
