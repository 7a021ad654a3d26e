package kernel

import (
	"fmt"
	"math"
	"sync/atomic"
	"syscall"

	"github.com/isle-run/isle/internal/wasip1"
)

// Host descriptors. Every file or directory a guest holds open is a
// descriptor of the host's own, out of the one RLIMIT_NOFILE that the
// host's listeners, connections, databases and logs need too. So they are
// budgeted like memory, at three levels: the process tree (Group), the
// node, and every node in this OS process together (hostFiles), which
// always leaves a reserve to the host.

// Defaults for the descriptor budgets.
const (
	// DefaultTreeFiles bounds the host descriptors one process tree holds
	// open, unless a quarter of the node's budget is less: four
	// processes at their own bound (wasip1.DefaultMaxFiles).
	DefaultTreeFiles = 4 * wasip1.DefaultMaxFiles
	// minHostReserve is the least the host keeps for itself.
	minHostReserve = 512
)

// hostFiles is the budget of host descriptors that the guests of every
// node in this OS process share: RLIMIT_NOFILE is the OS process's, not a
// node's.
var hostFiles struct {
	limit atomic.Int64 // the budget; set from RLIMIT_NOFILE at each kernel start
	held  atomic.Int64 // descriptors charged now, by every node
}

// HostFiles is the budget of host descriptors that guests of every node in
// this OS process may hold together: RLIMIT_NOFILE's soft limit (Go raises
// it to the hard limit at start on Linux) less a reserve for the host of a
// quarter of it, and at least 512 descriptors, or half the limit under
// 1,024.
func HostFiles() int64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return wasip1.DefaultMaxFiles / 2 // the least any Unix allows, halved
	}
	n := int64(min(rl.Cur, math.MaxInt32)) // RLIM_INFINITY, or near it
	return n - max(n/4, min(minHostReserve, n/2))
}

// fileBudgets sets the host's budget from RLIMIT_NOFILE now, and returns
// the node's bound (maxFiles, or 0 for the host's budget alone) and the
// default tree's (treeFiles, or DefaultTreeFiles but at most a quarter of
// what the node may hold).
func fileBudgets(maxFiles, treeFiles int64) (node, tree int64) {
	host := HostFiles()
	hostFiles.limit.Store(host)
	tree = treeFiles
	if tree <= 0 {
		budget := host
		if maxFiles > 0 {
			budget = min(maxFiles, host)
		}
		tree = max(min(DefaultTreeFiles, budget/4), 1)
	}
	return max(maxFiles, 0), tree
}

// takeFiles charges n host descriptors to g, every group above it and the
// host's budget. If that would pass a bound it charges nothing and returns
// the group whose bound it is, or nil with host set for the host's.
//
// Safe from any goroutine.
func (g *Group) takeFiles(n int64) (full *Group, host bool) {
	for a := g; a != nil; a = a.parent {
		if v := a.files.Add(n); a.fileLimit > 0 && v > a.fileLimit {
			g.untakeFiles(n, a)
			return a, false
		}
	}
	if hostFiles.held.Add(n) > hostFiles.limit.Load() {
		hostFiles.held.Add(-n)
		g.untakeFiles(n, nil)
		return nil, true
	}
	for a := g; a != nil; a = a.parent {
		a.notePeakFiles(a.files.Load())
	}
	return nil, false
}

// untakeFiles gives back n descriptors from g up to and including stop,
// or every level with a nil stop (not the host's budget).
func (g *Group) untakeFiles(n int64, stop *Group) {
	for b := g; b != nil; b = b.parent {
		b.files.Add(-n)
		if b == stop {
			return
		}
	}
}

// putFiles gives back n descriptors takeFiles charged.
//
// Precondition: takeFiles(n) succeeded on g, and nothing gave them back.
// Safe from any goroutine.
func (g *Group) putFiles(n int64) {
	g.untakeFiles(n, nil)
	hostFiles.held.Add(-n)
}

func (g *Group) notePeakFiles(v int64) {
	for p := g.peakFiles.Load(); v > p && !g.peakFiles.CompareAndSwap(p, v); p = g.peakFiles.Load() {
	}
}

// Files is how many host descriptors the tree's processes hold open now,
// and the most they have at once.
//
// Safe from any goroutine.
func (g *Group) Files() (now, peak int64) { return g.files.Load(), g.peakFiles.Load() }

// FileLimit is the tree's bound on host descriptors.
//
// Safe from any goroutine.
func (g *Group) FileLimit() int64 { return g.fileLimit }

// TakeFile charges one host descriptor to the process's tree: EMFILE past
// the tree's bound, ENFILE past the node's or the host's. It implements
// wasip1.Files.
//
// Safe from any goroutine.
func (p *Process) TakeFile() wasip1.Errno {
	switch full, host := p.group.takeFiles(1); {
	case host, full != nil && full.parent == nil:
		return wasip1.ErrnoNfile
	case full != nil:
		return wasip1.ErrnoMfile
	}
	return 0
}

// ReturnFile gives back a descriptor TakeFile charged. It implements
// wasip1.Files.
//
// Precondition: a TakeFile of p's returned 0, and nothing gave it back.
// Safe from any goroutine.
func (p *Process) ReturnFile() { p.group.putFiles(1) }

// HoldFile charges one host descriptor to the process's tree, for a host
// service that holds one for the process for a while (an HTTP request's
// connection); release gives it back. The error wraps ErrLimit.
//
// Safe from any goroutine.
func (p *Process) HoldFile() (release func(), err error) {
	switch full, host := p.group.takeFiles(1); {
	case host:
		return nil, fmt.Errorf("%w: the host's descriptors for guests (%d) are all in use", ErrLimit, hostFiles.limit.Load())
	case full != nil && full.parent == nil:
		return nil, fmt.Errorf("%w: the node's %d descriptors for guests are all in use", ErrLimit, full.fileLimit)
	case full != nil:
		return nil, fmt.Errorf("%w: the process tree holds its maximum of %d host descriptors", ErrLimit, full.fileLimit)
	}
	return func() { p.group.putFiles(1) }, nil
}

// Files is how many host descriptors the node's guests hold open now, and
// the most they may: the node's bound (Config.MaxFiles) or the host's
// budget, whichever is less.
//
// Safe from any goroutine.
func (k *Kernel) Files() (now, limit int64) {
	limit = hostFiles.limit.Load()
	if k.node.fileLimit > 0 {
		limit = min(limit, k.node.fileLimit)
	}
	return k.node.files.Load(), limit
}
