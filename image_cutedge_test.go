package isle_test

import (
	"strings"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// A Go command ends the same way from an image as from its own init:
// main returning while a goroutine still runs, runtime.Goexit in main,
// a panic in main, and main called by the init before runtime.main calls
// it (the hook first fires inside the init).
func TestImageGoCommandEndings(t *testing.T) {
	node := newImageNode(t)
	mod := load(t, node, testwasm.Go(t, "testdata/go/cutedge"))
	for _, mode := range []string{"return", "goexit", "panic", "reenter"} {
		g := isle.Grants{Args: []string{"cutedge", mode}, Clock: true, Random: isle.SystemRandom()}
		if err := node.PrepareImage(testwasm.Context(t), mod, g, isle.Limits{}); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		type result struct {
			exit api.Exit
			out  string
		}
		var runs [2]result
		for i, noImage := range []bool{false, true} {
			out := &syncBuffer{}
			g.Stdout, g.Stderr = out, out
			p, err := node.Spawn(testwasm.Context(t), mod, g, isle.Limits{NoImage: noImage})
			if err != nil {
				t.Fatal(err)
			}
			info, err := node.Inspect(p.ID())
			if err == nil && info.Image == noImage {
				t.Fatalf("%s: image %v with NoImage %v", mode, info.Image, noImage)
			}
			exit, err := p.Wait(testwasm.Context(t))
			if err != nil {
				t.Fatal(err)
			}
			// A panic's trace names goroutine addresses; keep its first lines.
			lines := strings.Split(out.String(), "\n")
			runs[i] = result{exit, strings.Join(lines[:min(len(lines), 4)], "\n")}
		}
		t.Logf("%s: image: %+v %q", mode, runs[0].exit, runs[0].out)
		if runs[0].exit.Kind != runs[1].exit.Kind || runs[0].exit.Code != runs[1].exit.Code || runs[0].out != runs[1].out {
			t.Errorf("%s: from an image %+v %q; from its own init %+v %q", mode, runs[0].exit, runs[0].out, runs[1].exit, runs[1].out)
		}
	}
}
