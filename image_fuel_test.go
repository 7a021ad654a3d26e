package isle_test

import (
	"io"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// Stats.Fuel: "A lone process that is not granted the real clock spends
// the same fuel on every run with the same input." A Go command spawned
// with the embedding's defaults (virtual clock, no entropy) on a node that
// makes images spends its init's fuel while it runs its own init and none
// of it once an image is ready (the second spawn of a view makes one).
func TestGoCommandFuelSameWithImage(t *testing.T) {
	node := newImageNode(t)
	mod := load(t, node, testwasm.Go(t, "testdata/go/hello"))
	var fuel [2]int64
	for i, noImage := range []bool{true, false} {
		out := &syncBuffer{}
		g := isle.Grants{Stdout: out}
		if !noImage {
			if err := node.PrepareImage(testwasm.Context(t), mod, g, isle.Limits{}); err != nil {
				t.Fatal(err)
			}
		}
		p, err := node.Spawn(testwasm.Context(t), mod, g, isle.Limits{NoImage: noImage})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(testwasm.Context(t)); err != nil {
			t.Fatal(err)
		}
		fuel[i] = p.Stats().Fuel
		if out.String() != "hello, world\n" {
			t.Fatalf("output %q", out.String())
		}
	}
	if fuel[0] != fuel[1] {
		t.Errorf("the same Go hello on the same input spent %d fuel running its own init and %d from an image", fuel[0], fuel[1])
	}
}

// A budget too small for the init ends a clone as it ends a process that
// runs its own init: the clone is charged its image's init first.
func TestImageCloneChargedItsInit(t *testing.T) {
	node := newImageNode(t)
	mod := load(t, node, testwasm.Go(t, "testdata/go/hello"))
	g := isle.Grants{Stdout: io.Discard}
	if err := node.PrepareImage(testwasm.Context(t), mod, g, isle.Limits{}); err != nil {
		t.Fatal(err)
	}
	for _, noImage := range []bool{true, false} {
		p, err := node.Spawn(testwasm.Context(t), mod, g, isle.Limits{NoImage: noImage, Fuel: 1_000_000})
		if err != nil {
			t.Fatal(err)
		}
		exit, err := p.Wait(testwasm.Context(t))
		if err != nil {
			t.Fatal(err)
		}
		if exit.Kind != api.ExitAbandoned || exit.Abandon == nil || exit.Abandon.Cause != api.CauseFuelExhausted {
			t.Errorf("NoImage %v: a Go hello with 1M fuel, whose init needs 14M: %v", noImage, exit)
		}
	}
}

// A reactor clone is charged its image's _initialize too: it has spent
// what a reactor that ran its own init has, after the same request, once
// both have ended.
func TestImageReactorFuelSame(t *testing.T) {
	node := newImageNode(t)
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/imageinit.wat"))
	if err := node.PrepareImage(testwasm.Context(t), mod, isle.Grants{}, isle.Limits{}); err != nil {
		t.Fatal(err)
	}
	own, ownImaged := spawnImaged(t, node, mod, isle.Grants{}, isle.Limits{NoImage: true})
	clone, cloneImaged := spawnImaged(t, node, mod, isle.Grants{}, isle.Limits{})
	if ownImaged || !cloneImaged {
		t.Fatalf("image use: own %v, clone %v", ownImaged, cloneImaged)
	}
	imageState(t, own, 1)
	imageState(t, clone, 1)
	for _, p := range []*isle.Process{own, clone} { // Stats lags by up to a slice until the end
		p.Kill()
		if _, err := p.Wait(testwasm.Context(t)); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := own.Stats().Fuel, clone.Stats().Fuel; a != b || a == 0 {
		t.Errorf("after the same request, a reactor that ran its init spent %d fuel, a clone %d", a, b)
	}
}
