package isle_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// imagedCmd is one run of testdata/go/imagedcmd: whether it started from an
// image, its exit, and its output's lines by key.
type imagedCmd struct {
	imaged bool
	exit   api.Exit
	out    map[string]string
}

// runImagedCmd spawns imagedcmd, inspects it while it waits for its stdin
// line, then lets it finish.
func runImagedCmd(t *testing.T, node *isle.Node, mod *isle.Module, g isle.Grants, l isle.Limits) imagedCmd {
	t.Helper()
	ctx := testwasm.Context(t)
	stdin, feed := io.Pipe()
	out := &syncBuffer{}
	g.Stdin, g.Stdout, g.Stderr = stdin, out, out
	p, err := node.Spawn(ctx, mod, g, l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	info, err := node.Inspect(p.ID())
	if err != nil {
		t.Fatalf("inspect a command blocked on stdin: %v", err)
	}
	go func() { _, _ = feed.Write([]byte("a line\n")); _ = feed.Close() }()
	exit, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run := imagedCmd{imaged: info.Image, exit: exit, out: map[string]string{}}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		k, v, _ := strings.Cut(line, "=")
		run.out[k] = v
	}
	return run
}

// A Go command started from an image (cut at main.main) behaves as one
// that ran its own runtime and package init: it sees its arguments, the
// map and goroutine its init made, reads its stdin, collects garbage,
// gets its own entropy, never sees its clock behind the init's reading,
// and exits with its code. Two clones share the init's draw from the
// runtime's generator, the documented price; processes that ran their own
// init do not.
func TestImageGoCommand(t *testing.T) {
	node := newImageNode(t)
	mod := load(t, node, testwasm.Go(t, "testdata/go/imagedcmd"))
	g := isle.Grants{Args: []string{"imagedcmd", "7"}, Clock: true, Random: isle.SystemRandom()}
	if err := node.PrepareImage(testwasm.Context(t), mod, g, isle.Limits{}); err != nil {
		t.Fatal(err)
	}
	a := runImagedCmd(t, node, mod, g, isle.Limits{})
	b := runImagedCmd(t, node, mod, g, isle.Limits{})
	own := runImagedCmd(t, node, mod, g, isle.Limits{NoImage: true})
	own2 := runImagedCmd(t, node, mod, g, isle.Limits{NoImage: true})
	if !a.imaged || !b.imaged || own.imaged || own2.imaged {
		t.Fatalf("image use: clones %v %v, own init %v %v", a.imaged, b.imaged, own.imaged, own2.imaged)
	}
	for _, r := range []imagedCmd{a, b, own, own2} {
		if r.exit.Kind != api.ExitNormal || r.exit.Code != 7 {
			t.Fatalf("exit %+v, output %v", r.exit, r.out)
		}
		want := map[string]string{"args": "imagedcmd 7", "stdin": "a line", "goroutine": "init's goroutine",
			"sum": "499500 kept=256", "behind": "false"}
		for k, v := range want {
			if r.out[k] != v {
				t.Fatalf("%s=%q, want %q (image %v; output %v)", k, r.out[k], v, r.imaged, r.out)
			}
		}
	}
	if a.out["entropy"] == b.out["entropy"] {
		t.Fatal("two clones drew the same entropy")
	}
	if a.out["initdraw"] != b.out["initdraw"] {
		t.Error("two clones' init draws differ: they did not start from one snapshot")
	}
	if own.out["initdraw"] == own2.out["initdraw"] {
		t.Error("two processes that ran their own init drew the same")
	}
}

// A Go command whose init writes gets no image, says why, and still runs
// whole, init and all, every time.
func TestImageGoCommandRefused(t *testing.T) {
	node := newImageNode(t)
	mod := load(t, node, testwasm.Go(t, "testdata/go/imagedcmd"))
	g := isle.Grants{Args: []string{"imagedcmd", "loud", "3"}, Random: isle.SystemRandom()}
	err := node.PrepareImage(testwasm.Context(t), mod, g, isle.Limits{})
	if !errors.Is(err, isle.ErrNoImage) || !strings.Contains(err.Error(), "fd_write") {
		t.Fatalf("PrepareImage of a Go command whose init writes: %v", err)
	}
	for range 3 { // past the spawn that would start an image in the background
		r := runImagedCmd(t, node, mod, g, isle.Limits{})
		if r.imaged || r.exit.Code != 3 || r.out["init speaks"] != "" || r.out["args"] != "imagedcmd loud 3" {
			t.Fatalf("image %v, exit %+v, output %v", r.imaged, r.exit, r.out)
		}
		if _, spoke := r.out["init speaks"]; !spoke {
			t.Fatalf("the init's write is missing: %v", r.out)
		}
	}
}
