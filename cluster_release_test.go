package isle_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// Tags of testdata/c/remote.c for handles sent in bulk.
const (
	rKeep      = 9
	rGiveMany  = 19
	rDrop      = 20
	rClosePeer = 21
	rAdopt     = 22
)

// exportLimit is the nodes' limit on handles exported to one node, here.
const exportLimit = 16

// releasePair starts nodes a and b, each holding at most exportLimit of
// the other's handles, with a process on b (keep) and one on a granted
// it as "peer" (give).
func releasePair(t *testing.T) (a, b *isle.Node, give, keep *isle.Process) {
	t.Helper()
	nodes := testClusterWith(t, func(c *isle.ClusterConfig) { isle.LimitExportsForTest(c, exportLimit) }, "a", "b")
	a, b = nodes[0], nodes[1]
	keep = remoteProc(t, b, nil, 0)
	give = remoteProc(t, a, publish(t, b, keep, "keep", a), api.RightSend)
	return a, b, give, keep
}

// waitExports waits until a holds want handles exported to b, and b holds
// as many of a's.
func waitExports(t *testing.T, a, b *isle.Node, want int) {
	t.Helper()
	testwasm.WaitFor(t, fmt.Sprintf("%d of a's handles exported to b, and held there", want), func() bool {
		exports, _, aUp := isle.ExportsForTest(a, "b")
		_, remotes, bUp := isle.ExportsForTest(b, "a")
		if !aUp || !bUp {
			t.Fatal("a and b lost their session")
		}
		return exports == want && remotes == want
	})
}

// A node that receives handle after handle to a long-lived process, each
// a new export, and closes each, lets go of every one: ten times the
// limit of handles cross, the owner's exports return to where they were,
// and the pair still exchanges handles after.
func TestClusterClosedHandlesAreReleased(t *testing.T) {
	a, b, give, keep := releasePair(t)
	base, _, _ := isle.ExportsForTest(a, "b")
	const perRound = exportLimit / 2
	for round := range 10 * exportLimit / perRound {
		if got := ask(t, give, rGiveMany, perRound, rDrop, 1); got[0] != 0 || got[1] != perRound {
			t.Fatalf("round %d: sending %d handles: rc %d, %d sent", round, perRound, got[0], got[1])
		}
		want := int32((round + 1) * perRound)
		testwasm.WaitFor(t, fmt.Sprintf("%d handles dropped on b", want), func() bool { return ask(t, keep, rGetCount)[0] == want })
		waitExports(t, a, b, base)
	}
	if got := ask(t, give, rGive); got[0] < 0 {
		t.Fatalf("a handle to a after %d released: rc %d", 10*exportLimit, got[0])
	}
	if got := ask(t, keep, rCallKept); got[0] < 0 || got[1] != rEcho+100 {
		t.Fatalf("b calling the handle a gave it: rc %d, tag %d", got[0], got[1])
	}
}

// A node at its limit of another's handles makes the sender's next send
// of a new one fail with ELIMIT, leaving no export behind, not even of a
// message's handles sent before the one that did not fit; once their
// holder ends, every export goes, and handles cross again.
func TestClusterExportLimitFailsClearly(t *testing.T) {
	a, b, give, keep := releasePair(t)
	base, _, _ := isle.ExportsForTest(a, "b")
	const perMsg = 3
	got := ask(t, give, rGiveMany, exportLimit, rKeep, perMsg)
	sent := int(got[1])
	if got[0] != -7 || base+perMsg*sent > exportLimit || base+perMsg*(sent+1) <= exportLimit {
		t.Fatalf("sending %d handles a message past a limit of %d (%d held): rc %d after %d messages; want ELIMIT (-7) once the next no longer fits",
			perMsg, exportLimit, base, got[0], sent)
	}
	waitExports(t, a, b, base+perMsg*sent)

	keep.Kill()
	if exit, err := keep.Wait(testwasm.Context(t)); err != nil || exit.Kind != api.ExitKilled {
		t.Fatalf("the holder: %v, %v", exit, err)
	}
	waitExports(t, a, b, base)
	holder := remoteProc(t, b, nil, 0)
	give2 := remoteProc(t, a, publish(t, b, holder, "holder", a), api.RightSend)
	if got := ask(t, give2, rGive); got[0] < 0 {
		t.Fatalf("a handle to a once the holder of %d ended: rc %d", perMsg*sent, got[0])
	}
	if got := ask(t, holder, rCallKept); got[0] < 0 || got[1] != rEcho+100 {
		t.Fatalf("b calling the handle a gave it: rc %d, tag %d", got[0], got[1])
	}
}

// A link and a monitor hold what they watch: a process on a that links to
// and monitors one on b, through a handle b sent it, then closes that
// handle, still gets both signals when the one on b crashes.
func TestClusterLinkAndMonitorOutliveTheHandle(t *testing.T) {
	nodes := testCluster(t, "a", "b")
	a, b := nodes[0], nodes[1]
	w := remoteProc(t, a, nil, 0)
	target := remoteProc(t, b, publish(t, a, w, "w", b), api.RightSend)
	if got := ask(t, target, rGive); got[0] < 0 {
		t.Fatalf("b giving a a handle to its process: rc %d", got[0])
	}
	ask(t, w, rAdopt)
	if got := ask(t, w, rWatch); got[0] != 0 || got[1] <= 0 {
		t.Fatalf("link, monitor: %v", got)
	}
	if got := ask(t, w, rClosePeer); got[0] != 0 {
		t.Fatalf("closing the handle: rc %d", got[0])
	}
	go func() { _, _ = target.Call(context.Background(), isle.Message{Tag: rCrash}) }()
	for range 2 {
		tag, kind, text := exitEvent(t, ask(t, w, rWait))
		if kind != 2 || !strings.Contains(text, "unreachable") {
			t.Fatalf("signal %#x after the handle was closed: kind %d %q; want an abandonment (2) for unreachable", tag, kind, text)
		}
	}
}
