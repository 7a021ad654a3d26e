package isle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// An image is made within the budget of the tree whose spawn asked for
// it: a tree under 16 MiB, whose own processes cannot run an init of
// 256 MiB, cannot make the node hold that init's image either (an outside
// review had 16 spawns of such trees hold 2 GiB of images for the node's
// life). A tree that can afford the init then gets the image.
func TestImageKeepsToTheSpawningTreesMemory(t *testing.T) {
	node := newImageNode(t)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/biginit.wat"))
	ctx := testwasm.Context(t)
	small := isle.Limits{Memory: 16 << 20}
	for range 2 { // the second spawn of a view starts its image
		p, err := node.Spawn(ctx, mod, isle.Grants{}, small)
		if err != nil {
			t.Fatal(err)
		}
		if exit, err := p.Wait(ctx); err != nil || exit.Normal() {
			t.Fatalf("a 256 MiB init under a 16 MiB tree ended %v (%v)", exit, err)
		}
	}
	if err := node.PrepareImage(ctx, mod, isle.Grants{}, small); !errors.Is(err, isle.ErrNoImage) {
		t.Fatalf("PrepareImage within 16 MiB: %v, want ErrNoImage", err)
	}
	if held := node.Snapshot().Memory; held != 0 {
		t.Fatalf("with no process left, the node holds %d bytes for images no tree of 16 MiB can use", held)
	}
	// A tree that can afford the init gets the image, though poorer ones
	// asked first (before, their failure stuck to the view).
	if err := node.PrepareImage(ctx, mod, isle.Grants{}, isle.Limits{Memory: 512 << 20}); err != nil {
		t.Fatalf("a tree that can afford the init gets no image: %v", err)
	}
}

// An image's init is bounded by the spawning tree's fuel, and ends when
// the node closes: an init that never returns neither burns a core for
// the snapshot's 30 s on behalf of a tree with little fuel, nor holds
// Close for them (both did).
func TestImageInitKeepsToFuelAndClose(t *testing.T) {
	node := newImageNode(t)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/spininit.wat"))
	ctx := testwasm.Context(t)
	quick, cancel := context.WithTimeout(ctx, 20*time.Second) // the snapshot's own bound is 30 s
	defer cancel()
	err := node.PrepareImage(quick, mod, isle.Grants{}, isle.Limits{Fuel: 1_000_000})
	if !errors.Is(err, isle.ErrNoImage) || !strings.Contains(err.Error(), "fuel") {
		t.Fatalf("PrepareImage of an endless init under 1M fuel: %v, want ErrNoImage for fuel", err)
	}
	// A PrepareImage that stops waiting leaves its build running, here
	// with no bound but the snapshot's own 30 s: Close ends it.
	other := newImageNode(t)
	mod = load(t, other, testwasm.WAT(t, "testdata/wat/spininit.wat"))
	gone, stop := context.WithCancel(ctx)
	stop()
	if err := other.PrepareImage(gone, mod, isle.Grants{}, isle.Limits{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("PrepareImage with a cancelled context: %v", err)
	}
	if err := other.Close(quick); err != nil {
		t.Fatalf("Close while an image's endless init runs: %v", err)
	}
}

// An image's init is bounded by the spawning tree's time too: an endless
// init asked for under a 100 ms timeout ends then, not after the
// snapshot's own 30 s.
func TestImageInitKeepsToTimeout(t *testing.T) {
	node := newImageNode(t)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/spininit.wat"))
	quick, cancel := context.WithTimeout(testwasm.Context(t), 20*time.Second) // the snapshot's own bound is 30 s
	defer cancel()
	err := node.PrepareImage(quick, mod, isle.Grants{}, isle.Limits{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, isle.ErrNoImage) || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("PrepareImage of an endless init under a 100 ms timeout: %v, want ErrNoImage for the timeout", err)
	}
	// An init the timeout ends between two of its fuel yields (biginit
	// touches 256 MiB in fewer instructions than a yield's share) may
	// return, but makes no image.
	big := load(t, node, testwasm.WAT(t, "testdata/wat/biginit.wat"))
	err = node.PrepareImage(quick, big, isle.Grants{}, isle.Limits{Memory: 512 << 20, Timeout: 5 * time.Millisecond})
	if !errors.Is(err, isle.ErrNoImage) || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("PrepareImage of a 256 MiB init under a 5 ms timeout: %v, want ErrNoImage for the timeout", err)
	}
	// A spawn's tree passes on what is left of its timeout: the build
	// its second spawn starts ends with the tree, so a PrepareImage that
	// finds it under way waits for it only that long.
	other := newImageNode(t)
	mod = load(t, other, testwasm.WAT(t, "testdata/wat/spininit.wat"))
	for range 2 {
		p, err := other.Spawn(quick, mod, isle.Grants{}, isle.Limits{Timeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(quick); err != nil {
			t.Fatal(err)
		}
	}
	err = other.PrepareImage(quick, mod, isle.Grants{}, isle.Limits{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, isle.ErrNoImage) || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("PrepareImage after spawns under a 100 ms timeout: %v, want ErrNoImage for the timeout", err)
	}
}

// A build that runs out of the asking tree's time or fuel is tried again
// only for a tree with at least twice as much: trees that spawn and die
// cannot have the node run an endless init for them again and again at no
// cost of theirs (a review kept both cores busy so, with 8 views of one
// module). An init that fails for what it does is not tried again,
// however little fuel the tree that asked had left (a review saw a trap
// under 500,000 units of fuel taken for running out of it).
func TestImageRetriesNeedMoreBudget(t *testing.T) {
	node := newImageNode(t)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/spininit.wat"))
	ctx := testwasm.Context(t)
	short := isle.Limits{Timeout: 20 * time.Millisecond}
	for range 30 { // before, builds started at the 2nd, 6th, 14th and 30th
		p, err := node.Spawn(ctx, mod, isle.Grants{}, short)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	err := node.PrepareImage(ctx, mod, isle.Grants{}, short)
	if !errors.Is(err, isle.ErrNoImage) || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("PrepareImage within the time a build ran out of: %v, want that build's ErrNoImage", err)
	}
	if n := node.Snapshot().ImageBuilds; n != 1 {
		t.Fatalf("30 spawns of trees with 20 ms and a PrepareImage with as much started %d builds, want 1", n)
	}
	err = node.PrepareImage(ctx, mod, isle.Grants{}, isle.Limits{Timeout: 40 * time.Millisecond})
	if !errors.Is(err, isle.ErrNoImage) || node.Snapshot().ImageBuilds != 2 {
		t.Fatalf("PrepareImage with twice the time: %v after %d builds, want a second build, failed", err, node.Snapshot().ImageBuilds)
	}

	trap := load(t, node, testwasm.WAT(t, "testdata/wat/trapinit.wat"))
	for i := range 3 { // twice the fuel each time: a retry would be allowed
		err := node.PrepareImage(ctx, trap, isle.Grants{}, isle.Limits{Fuel: 500_000 << i})
		if !errors.Is(err, isle.ErrNoImage) || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("PrepareImage of an init that traps: %v, want ErrNoImage for the trap", err)
		}
	}
	if n := node.Snapshot().ImageBuilds; n != 3 {
		t.Fatalf("three PrepareImage of an init that traps at once started %d builds in all, want 1 (3 with the earlier 2)", n)
	}
}
