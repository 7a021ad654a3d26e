package isle_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// Requests of testdata/go/imaged.
const (
	imgArgs     = 1
	imgNote     = 2
	imgNotes    = 3
	imgSince    = 4
	imgEntropy  = 5
	imgRuntime  = 6
	imgInitDraw = 7
)

func imagedGrants() isle.Grants {
	return isle.Grants{Args: []string{"imaged", "a1", "a2"}, Clock: true, Random: isle.SystemRandom()}
}

// callImaged makes one request of an imaged reactor.
func callImaged(t *testing.T, p *isle.Process, tag uint32, data string) []byte {
	t.Helper()
	r, err := p.Call(testwasm.Context(t), isle.Message{Tag: tag, Data: []byte(data)})
	if err != nil || r.Tag != tag {
		t.Fatalf("request %d: %+v, %v", tag, r, err)
	}
	return r.Data
}

// spawnImaged spawns the imaged reactor and reports whether it started
// from an image.
func spawnImaged(t *testing.T, node *isle.Node, mod *isle.Module, g isle.Grants, l isle.Limits) (*isle.Process, bool) {
	t.Helper()
	p, err := node.Spawn(testwasm.Context(t), mod, g, l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	d, err := node.Inspect(p.ID())
	if err != nil {
		t.Fatal(err)
	}
	return p, d.Image
}

// A Go reactor started from an image answers as one that ran its init:
// what init set is there, two clones do not share writes, each gets its
// own entropy, and its monotonic clock has not gone back past the
// snapshot's reading.
func TestImageGoReactor(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, testwasm.Go(t, "testdata/go/imaged"))
	g := imagedGrants()
	if err := node.PrepareImage(testwasm.Context(t), mod, g, isle.Limits{}); err != nil {
		t.Fatal(err)
	}
	a, aImaged := spawnImaged(t, node, mod, g, isle.Limits{})
	b, bImaged := spawnImaged(t, node, mod, g, isle.Limits{})
	if !aImaged || !bImaged {
		t.Fatal("a spawn after PrepareImage did not start from the image")
	}
	for _, p := range []*isle.Process{a, b} {
		if got := string(callImaged(t, p, imgArgs, "")); got != "imaged a1 a2" {
			t.Fatalf("a clone's init saw args %q", got)
		}
		if since := int64(binary.LittleEndian.Uint64(callImaged(t, p, imgSince, ""))); since < 0 {
			t.Fatalf("a clone's monotonic clock is %d ns behind the reading its init took", -since)
		}
	}
	callImaged(t, a, imgNote, "x")
	callImaged(t, a, imgNote, "y")
	if got := string(callImaged(t, b, imgNotes, "")); got != "" {
		t.Fatalf("clone b sees clone a's writes: %q", got)
	}
	if got := string(callImaged(t, a, imgNotes, "")); got != "x,y" {
		t.Fatalf("clone a lost its own writes: %q", got)
	}
	if bytes.Equal(callImaged(t, a, imgEntropy, ""), callImaged(t, b, imgEntropy, "")) {
		t.Fatal("two clones drew the same entropy")
	}
}

// The opt-out: with Limits.NoImage (or Config.NoImages) a reactor runs its
// own init, so its init's draws are its own. Clones share them, which is
// the documented price of images.
func TestImageOptOut(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, testwasm.Go(t, "testdata/go/imaged"))
	g := imagedGrants()
	if err := node.PrepareImage(testwasm.Context(t), mod, g, isle.Limits{}); err != nil {
		t.Fatal(err)
	}
	a, _ := spawnImaged(t, node, mod, g, isle.Limits{})
	b, _ := spawnImaged(t, node, mod, g, isle.Limits{})
	if !bytes.Equal(callImaged(t, a, imgInitDraw, ""), callImaged(t, b, imgInitDraw, "")) {
		t.Fatal("two clones of one image drew differently at init: they did not start from one snapshot")
	}
	c, cImaged := spawnImaged(t, node, mod, g, isle.Limits{NoImage: true})
	d, dImaged := spawnImaged(t, node, mod, g, isle.Limits{NoImage: true})
	if cImaged || dImaged {
		t.Fatal("Limits.NoImage started a process from an image")
	}
	if bytes.Equal(callImaged(t, c, imgInitDraw, ""), callImaged(t, d, imgInitDraw, "")) {
		t.Fatal("two processes that ran their own init drew the same")
	}
	if got := string(callImaged(t, c, imgArgs, "")); got != "imaged a1 a2" {
		t.Fatalf("args %q", got)
	}
	err := node.PrepareImage(testwasm.Context(t), mod, g, isle.Limits{NoImage: true})
	if !errors.Is(err, isle.ErrNoImage) {
		t.Fatalf("PrepareImage with NoImage: %v", err)
	}
}

// A clone holds little of its own: the image's pages it only reads stay
// shared. One that ran its init holds every page it touched.
func TestImagePrivateMemory(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, testwasm.Go(t, "testdata/go/imaged"))
	g := imagedGrants()
	if err := node.PrepareImage(testwasm.Context(t), mod, g, isle.Limits{}); err != nil {
		t.Fatal(err)
	}
	private := func(l isle.Limits) uint64 {
		p, _ := spawnImaged(t, node, mod, g, l)
		callImaged(t, p, imgArgs, "")
		n, err := isle.LinearPrivateForTest(p)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	clone, own := private(isle.Limits{}), private(isle.Limits{NoImage: true})
	t.Logf("linear memory held privately after one reply: clone %d KiB, own init %d KiB", clone>>10, own>>10)
	if clone > 256<<10 || clone*4 > own {
		t.Fatalf("a clone holds %d KiB of its own (a process that ran its init: %d KiB)", clone>>10, own>>10)
	}
}

var _ = context.Background
