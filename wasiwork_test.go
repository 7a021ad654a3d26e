package isle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// bigDir makes a directory of n empty files with names of 20 bytes.
func bigDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("entry-%014d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// spawnDirwalk starts testdata/c/dirwalk.c in mode args with dir at /d.
func spawnDirwalk(t *testing.T, node *isle.Node, dir string, l isle.Limits, args ...string) *isle.Process {
	t.Helper()
	mod := load(t, node, testwasm.C(t, "testdata/c/dirwalk.c", "-O2"))
	p, err := node.Spawn(testwasm.Context(t), mod, isle.Grants{
		Args: append([]string{"dirwalk"}, args...),
		Dirs: []isle.Dir{{Host: dir, Guest: "/d", Rights: api.RightRead}},
	}, l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// hostCPU is the CPU time the test process has used, user and system.
func hostCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// maxCPUPerFuel bounds the host's CPU time per unit of a guest's fuel
// budget: the fuel of a host call's work is about what compiled C spends
// in the time the work takes (13 to 20 units a nanosecond), so a budget
// of 200M fuel buys tens of milliseconds of any work. 100 ns a unit gives
// a thousand times that room, for a machine under load, and still fails
// a call whose work goes uncharged.
const maxCPUPerFuel = 100 * time.Nanosecond

// wantFuelAbandon waits for p, started with a budget of fuel, to end, and
// fails the test unless it was abandoned for its fuel having made the
// host spend less than maxCPUPerFuel per unit of it.
func wantFuelAbandon(t *testing.T, p *isle.Process, fuel int64, cpu0 time.Duration, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testwasm.Context(t), 2*time.Minute)
	defer cancel()
	exit, err := p.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s had not ended 2 minutes later; %d fuel charged", what, p.Stats().Fuel)
	}
	if err != nil {
		t.Fatal(err)
	}
	if exit.Kind != api.ExitAbandoned || exit.Abandon.Cause != api.CauseFuelExhausted {
		t.Fatalf("%s ended %v, having been charged %d fuel; want abandoned for fuel", what, exit, p.Stats().Fuel)
	}
	cpu := hostCPU(t) - cpu0
	t.Logf("%s spent %d fuel and %v of the host's CPU", what, p.Stats().Fuel, cpu)
	if bound := time.Duration(fuel) * maxCPUPerFuel; cpu > bound {
		t.Fatalf("%s made the host spend %v of CPU on a budget of %d fuel; want at most %v", what, cpu, fuel, bound)
	}
}

// A directory listing holds only a batch of entries between calls,
// whatever the directory's size, and what it holds is charged to the
// tree: 400 descriptors each listed from cookie 0 on a directory of 4,000
// entries grow the host's heap by a few MiB, less than the tree is
// charged. Before, fd_readdir read and kept each descriptor's whole
// listing, charged to no one, and a 32 MiB tree made the host hold 458 MiB
// this way (found in review); here that was 92 MiB.
func TestDirectoryListingsHoldLittle(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	dir := bigDir(t, 4000)
	before := liveHeap()
	const fds = 400
	p := spawnDirwalk(t, node, dir, isle.Limits{Memory: 32 << 20}, "listings", fmt.Sprint(fds))
	r, err := p.Call(testwasm.Context(t), isle.Message{Tag: 1})
	if err != nil || len(r.Data) != 4 || r.Data[0] != fds%256 || r.Data[1] != fds/256 {
		t.Fatalf("dirwalk listings: %+v, %v; want %d listed", r, err, fds)
	}
	grew := liveHeap() - before
	t.Logf("%d listings of %d entries grew the heap %.1f MiB", fds, 4000, float64(grew)/(1<<20))
	if grew > 16<<20 {
		t.Fatalf("%d listings of a 4,000-entry directory grew the host's heap %.1f MiB; want under 16", fds, float64(grew)/(1<<20))
	}
	if charged := int64(p.Stats().Memory); charged < grew {
		t.Fatalf("%d listings grew the host's heap %.1f MiB, and the tree is charged %.1f MiB in all", fds, float64(grew)/(1<<20), float64(charged)/(1<<20))
	}
}

// A tree's memory limit bounds its listings: under 4 MiB, a guest listing
// 400 descriptors is refused (ENOMEM) long before it has them all.
func TestDirectoryListingsStopAtTheMemoryLimit(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	p := spawnDirwalk(t, node, bigDir(t, 100), isle.Limits{Memory: 4 << 20}, "listings", "400")
	r, err := p.Call(testwasm.Context(t), isle.Message{Tag: 1})
	if err != nil || len(r.Data) != 4 {
		t.Fatalf("dirwalk listings: %+v, %v", r, err)
	}
	listed := int(r.Data[0]) | int(r.Data[1])<<8
	t.Logf("a 4 MiB tree listed %d descriptors", listed)
	if listed == 0 || listed >= 400 {
		t.Fatalf("a 4 MiB tree listed %d of 400 descriptors; want some, and fewer than all", listed)
	}
}

// Reading a directory costs fuel for each entry read: a guest listing a
// directory of 2,000 entries from cookie 0, over and over, spends a
// budget of 200M fuel within a few hundred calls. Before, each call reread
// the whole directory at the cost of the few bytes it passed, and the loop
// held a host thread until its timeout.
func TestDirectoryListingCostsFuel(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	dir := bigDir(t, 2000)
	const fuel = 200_000_000
	cpu0 := hostCPU(t)
	p := spawnDirwalk(t, node, dir, isle.Limits{Fuel: fuel, Timeout: 10 * time.Minute}, "relist")
	wantFuelAbandon(t, p, fuel, cpu0, "a guest rereading 2,000 entries")
}

// A path call costs fuel for each directory it walks: a guest statting a
// path 1,500 levels deep, over and over, spends a budget of 200M fuel
// within a few calls. Before, each call cost the fuel of the path's bytes,
// though the host walks the path one openat a level: the guest spent its
// budget, but only after 108 s of the host's CPU.
func TestDeepPathCostsFuel(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	dir := t.TempDir()
	deep := strings.TrimSuffix(strings.Repeat("a/", 1500), "/")
	if err := os.MkdirAll(filepath.Join(dir, deep), 0o755); err != nil {
		t.Fatal(err)
	}
	const fuel = 200_000_000
	cpu0 := hostCPU(t)
	p := spawnDirwalk(t, node, dir, isle.Limits{Fuel: fuel, Timeout: 10 * time.Minute}, "deepstat", deep)
	wantFuelAbandon(t, p, fuel, cpu0, "a guest statting a path 1,500 levels deep")
}

// symlinkChain makes, under dir, a chain of eight symlinks each named n
// and each 4 KiB of "a/" leading 2,047 directories deeper to the next, so
// that a path through the first walks 16,376 levels inside the grant.
func symlinkChain(t *testing.T, dir string) {
	t.Helper()
	const depth = 2047 // "a/" this many times and "n" fill a symlink's 4,095 bytes
	deep := strings.TrimSuffix(strings.Repeat("a/", depth), "/")
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	for range 8 {
		if err := r.Symlink(deep+"/n", "n"); err != nil {
			t.Fatal(err)
		}
		if err := r.MkdirAll(deep, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := r.OpenRoot(deep)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		r = next
	}
	r.Close()
}

// A path through symlinks costs the fuel of the levels they lead through,
// not only of the levels the guest wrote: capfs walks such a path itself
// and charges each name of a link's target before walking it, and each
// level a ".." in one walks again from the root. Before, "n/x" through
// eight links of 4 KiB each walked 16,376 levels charged as 2, and a loop
// of such stats spent 31.9 s of the host's CPU on 40M fuel; a CPU meter
// that followed charged only when the call returned, and path_link with
// SYMLINK_FOLLOW (80 walks a call) spent 5.2 s on 20M, 50 s through host
// links that climb with ".." (found in review).
func TestSymlinkWalkCostsFuel(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	chain, climb := t.TempDir(), t.TempDir()
	symlinkChain(t, chain)
	climbingChain(t, climb)
	const fuel = 20_000_000
	for _, tc := range []struct{ dir, mode, what string }{
		{chain, "deepstat", "stats through eight long symlinks"},
		{chain, "deepopen", "opens through eight long symlinks"},
		{chain, "deeplink", "links that follow eight long symlinks"},
		{climb, "deepstat", "stats through symlinks that climb with .."},
		{climb, "deeplink", "links through symlinks that climb with .."},
	} {
		cpu0 := hostCPU(t)
		p := spawnDirwalk(t, node, tc.dir, isle.Limits{Fuel: fuel, Timeout: 10 * time.Minute}, tc.mode, "n/x")
		wantFuelAbandon(t, p, fuel, cpu0, "a guest in a loop of "+tc.what)
	}
}

// climbingChain makes under dir what a host may have made: seven links
// "n" of 4 KiB each, every one 2,047 directories deeper, the last of
// which goes 2,000 levels down and then climbs back with eight "..", to
// an "x" that is a symlink to itself. Each ".." makes a walk reopen its
// directory from the root.
func climbingChain(t *testing.T, dir string) {
	t.Helper()
	deep := strings.TrimSuffix(strings.Repeat("a/", 2047), "/")
	down := strings.TrimSuffix(strings.Repeat("a/", 2000), "/")
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { r.Close() }()
	for i := range 7 {
		target := deep + "/n"
		if i == 6 {
			target = down + strings.Repeat("/../a", 8)
		}
		if err := r.Symlink(target, "n"); err != nil {
			t.Fatal(err)
		}
		if err := r.MkdirAll(deep, 0o755); err != nil {
			t.Fatal(err)
		}
		if i == 6 {
			if err := r.Symlink("x", down+"/x"); err != nil {
				t.Fatal(err)
			}
		}
		next, err := r.OpenRoot(deep)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		r = next
	}
}

// The same program spends the same fuel on every run, whatever the
// machine's load: path calls are charged by the levels they walk. Before,
// under a CPU meter of each path call, 2,000 rounds of creates, renames
// and unlinks were charged 1.5G fuel on a quiet machine and 8.6G under
// load (found in review).
func TestPathCallsSpendTheSameFuel(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	mod := load(t, node, testwasm.C(t, "testdata/c/dirwalk.c", "-O2"))
	var spent []int64
	for range 4 {
		p, err := node.Spawn(testwasm.Context(t), mod, isle.Grants{
			Args: []string{"dirwalk", "churn", "500"},
			Dirs: []isle.Dir{{Host: t.TempDir(), Guest: "/d", Rights: api.RightRead | api.RightWrite | api.RightCreate | api.RightDelete}},
		}, isle.Limits{Timeout: 5 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		exit, err := p.Wait(testwasm.Context(t))
		if err != nil {
			t.Fatal(err)
		}
		if !exit.Normal() {
			t.Fatalf("churn ended %v", exit)
		}
		spent = append(spent, p.Stats().Fuel)
	}
	t.Logf("fuel of 500 rounds, four runs: %v", spent)
	for _, f := range spent[1:] {
		if f != spent[0] {
			t.Fatalf("the same program spent different fuel on four runs: %v", spent)
		}
	}
}

// fd_readdir's cookies hold on directories of 0 to 100 entries (files,
// directories and symlinks, names of 1 to 200 bytes), paged with every
// buffer size from 1 to 600 bytes, read at every cookie in any order, at
// huge cookies, and through a renumbered descriptor.
func TestReaddirCookiesHold(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	mod := load(t, node, testwasm.C(t, "testdata/c/readdircheck.c", "-O2"))
	for _, count := range []int{0, 1, 29, 30, 31, 32, 33, 62, 63, 64, 65, 100} {
		t.Run(fmt.Sprint(count), func(t *testing.T) {
			dir := t.TempDir()
			for i := range count {
				name := strings.Repeat(string(rune('a'+i%26)), 1+(i*37)%200) + fmt.Sprint(i)
				var err error
				switch i % 3 {
				case 0:
					err = os.WriteFile(filepath.Join(dir, name), nil, 0o644)
				case 1:
					err = os.Mkdir(filepath.Join(dir, name), 0o755)
				case 2:
					err = os.Symlink("nowhere", filepath.Join(dir, name))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			p, err := node.Spawn(testwasm.Context(t), mod, isle.Grants{
				Args: []string{"rd", "check"}, Stdout: &out,
				Dirs: []isle.Dir{{Host: dir, Guest: "/d", Rights: api.RightRead}},
			}, isle.Limits{Timeout: 2 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			exit, err := p.Wait(testwasm.Context(t))
			if err != nil {
				t.Fatal(err)
			}
			s := out.String()
			if !exit.Normal() || !strings.Contains(s, "done") || strings.Contains(s, "FAIL") {
				if len(s) > 3000 {
					s = s[:3000]
				}
				t.Fatalf("exit %v fuel %d\n%s", exit, p.Stats().Fuel, s)
			}
			t.Logf("%s", strings.SplitN(s, "\n", 2)[0])
		})
	}
}

// One fd_readdir at a far cookie stops at its tree's fuel budget: it reads
// the directory batch after batch within one call, and pays for each batch
// before the next, so it is charged little past its budget. Before, one
// call over 100,000 entries on 1M fuel read them all, charged 6,553M fuel
// (found in review).
func TestReaddirFarCookieStopsAtTheBudget(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	dir := bigDir(t, 20_000)
	mod := load(t, node, testwasm.C(t, "testdata/c/readdircheck.c", "-O2"))
	const fuel = 1_000_000
	cpu0 := hostCPU(t)
	p, err := node.Spawn(testwasm.Context(t), mod, isle.Grants{
		Args: []string{"rd", "skip"},
		Dirs: []isle.Dir{{Host: dir, Guest: "/d", Rights: api.RightRead}},
	}, isle.Limits{Fuel: fuel, Timeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	wantFuelAbandon(t, p, fuel, cpu0, "a guest skipping to the end of 20,000 entries")
	if spent := p.Stats().Fuel; spent > 10*fuel {
		t.Fatalf("a guest skipping to the end of 20,000 entries on %d fuel was charged %d", fuel, spent)
	}
}

// Listing, rewinding, renumbering and closing directory descriptors gives
// back what the listings charged: a process's memory after 2,000 rounds
// is what it was after 1,000.
func TestListingChargesBalance(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	dir := bigDir(t, 100)
	mod := load(t, node, testwasm.C(t, "testdata/c/readdircheck.c", "-O2"))
	p, err := node.Spawn(testwasm.Context(t), mod, isle.Grants{
		Args: []string{"rd", "churn", "1000"},
		Dirs: []isle.Dir{{Host: dir, Guest: "/d", Rights: api.RightRead}},
	}, isle.Limits{Memory: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	var mem []uint64
	for range 2 {
		r, err := p.Call(testwasm.Context(t), isle.Message{Tag: 1})
		if err != nil || len(r.Data) != 4 || r.Data[0] != 1000%256 {
			t.Fatalf("%v %v", r, err)
		}
		mem = append(mem, uint64(p.Stats().Memory))
	}
	t.Logf("memory after 1,000 and 2,000 rounds: %d, %d", mem[0], mem[1])
	if mem[1] != mem[0] {
		t.Fatalf("memory after 1,000 rounds %d, after 2,000 %d", mem[0], mem[1])
	}
}

// path_link with SYMLINK_FOLLOW follows up to 40 final symlinks itself,
// each an Lstat and a Readlink that walk the whole path from the grant's
// root, and each hop is charged so. Before, only the two paths the guest
// gave were (1 level each): through 39 links at a depth of 1,900, a guest
// on 2M fuel spent 14 s of the host's CPU (found in review).
func TestLinkThroughSymlinksCostsFuel(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	dir := t.TempDir()
	mod := load(t, node, testwasm.C(t, "testdata/c/linkchain.c", "-O2"))
	grant := []isle.Dir{{Host: dir, Guest: "/d", Rights: api.RightRead | api.RightWrite | api.RightCreate | api.RightDelete}}
	var out bytes.Buffer
	b, err := node.Spawn(testwasm.Context(t), mod, isle.Grants{Args: []string{"l", "build", "1000"}, Dirs: grant, Stdout: &out},
		isle.Limits{Fuel: 2_000_000_000, Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	exit, err := b.Wait(testwasm.Context(t))
	if err != nil || !exit.Normal() || !strings.Contains(out.String(), "built") {
		t.Fatalf("build: %v %v %s", exit, err, out.String())
	}
	t.Logf("the builder spent %d fuel", b.Stats().Fuel)
	const fuel = 2_000_000
	cpu0 := hostCPU(t)
	p, err := node.Spawn(testwasm.Context(t), mod, isle.Grants{Args: []string{"l", "link"}, Dirs: grant},
		isle.Limits{Fuel: fuel, Timeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	wantFuelAbandon(t, p, fuel, cpu0, "a guest linking through 39 symlinks at depth 1,000")
}
