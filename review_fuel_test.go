package isle_test

import (
	"testing"

	"github.com/isle-run/isle"
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
