package isle_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.node != nil {
		shared.node.Close(context.Background())
	}
	os.Exit(code)
}

// shared is one node for the tests that need nothing of a node but its
// modules: a Go guest is 3 MB, and loading one into a fresh node costs
// about a second under the race detector even when it is compiled
// already. A test on it must not depend on what else runs there (such as
// the node's process count); those make a node of their own.
var shared struct {
	once sync.Once
	node *isle.Node
	err  error
}

// sharedNode returns the shared node, starting it on first use.
func sharedNode(t *testing.T) *isle.Node {
	t.Helper()
	cache := testwasm.NodeCache(t)
	shared.once.Do(func() {
		cfg := nodeConfig(t)
		cfg.CacheDir = cache
		shared.node, shared.err = isle.NewNode(context.Background(), cfg)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.node
}

// nodeConfig configures the tests' nodes. Under the race detector they
// make no images: a Go guest's image module is compiled in the test
// process, about 30 s under the detector, and every test that spawns a Go
// guest twice would start one in the background. The image tests use
// newImageNode.
func nodeConfig(t *testing.T) isle.Config {
	return isle.Config{CacheDir: testwasm.NodeCache(t), NoImages: testwasm.RaceEnabled()}
}

// newImageNode returns a node of the test's own that makes images.
func newImageNode(t *testing.T) *isle.Node {
	t.Helper()
	return newImageNodeUnder(t, 0)
}

// newImageNodeUnder returns a node of the test's own that makes images,
// under a ceiling of ceiling bytes (0: the default).
func newImageNodeUnder(t *testing.T, ceiling int64) *isle.Node {
	t.Helper()
	cfg := nodeConfig(t)
	cfg.NoImages = false
	cfg.MaxMemory = ceiling
	return startNode(t, cfg)
}

// newNode returns a node of the test's own, closed when it ends.
func newNode(t *testing.T) *isle.Node {
	t.Helper()
	return startNode(t, nodeConfig(t))
}

func startNode(t *testing.T, cfg isle.Config) *isle.Node {
	t.Helper()
	node, err := isle.NewNode(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close(context.Background()) })
	return node
}

func load(t *testing.T, node *isle.Node, path string) *isle.Module {
	t.Helper()
	mod, err := node.LoadModuleFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

func run(t *testing.T, node *isle.Node, mod *isle.Module, g isle.Grants, l isle.Limits) api.Exit {
	t.Helper()
	ctx := testwasm.Context(t)
	p, err := node.Spawn(ctx, mod, g, l)
	if err != nil {
		t.Fatal(err)
	}
	exit, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return exit
}

// The zero Grants gives nothing: no environment, arguments, files or
// entropy, even when the host has plenty of each.
func TestZeroGrantsGiveNothing(t *testing.T) {
	t.Setenv("ISLE_LEAK_CANARY", "host-only")
	node := sharedNode(t)
	mod := load(t, node, testwasm.Go(t, "testdata/go/hostile"))
	var out bytes.Buffer
	exit := run(t, node, mod, isle.Grants{Stdout: &out}, isle.Limits{})
	if !exit.Normal() {
		t.Fatalf("exit: %v", exit)
	}
	report := out.String()
	for _, want := range []string{"env: ok []\n", "args: ok []\n", "list-root: error", "read-etc-passwd: error"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "host-only") {
		t.Errorf("host environment leaked:\n%s", report)
	}

	// And without stdio granted, output goes nowhere.
	mod = load(t, node, testwasm.Go(t, "testdata/go/determinism"))
	out.Reset()
	exit = run(t, node, mod, isle.Grants{}, isle.Limits{})
	if !exit.Normal() {
		t.Fatalf("exit: %v", exit)
	}
}

// Without the clock, a guest sees the virtual clock; without entropy,
// crypto/rand cannot work.
func TestUngrantedClockAndRandom(t *testing.T) {
	t.Parallel()
	node := sharedNode(t)
	mod := load(t, node, testwasm.Go(t, "testdata/go/determinism"))
	var out bytes.Buffer
	if exit := run(t, node, mod, isle.Grants{Stdout: &out}, isle.Limits{}); !exit.Normal() {
		t.Fatalf("exit: %v", exit)
	}
	s := out.String()
	if !strings.Contains(s, "now: 9466848") {
		t.Errorf("want a virtual clock near 2000-01-01:\n%s", s)
	}
	// Go's crypto/rand cannot run without entropy: the guest is abandoned
	// with the runtime's own reason.
	exit := run(t, node, mod, isle.Grants{Args: []string{"determinism", "-crypto"}}, isle.Limits{})
	if exit.Kind != api.ExitAbandoned || !strings.Contains(exit.Abandon.Detail, "crypto/rand: failed to read random data") {
		t.Errorf("crypto/rand without entropy: %v", exit)
	}
	out.Reset()
	exit = run(t, node, mod, isle.Grants{Args: []string{"determinism", "-crypto"}, Stdout: &out,
		Clock: true, Random: isle.SystemRandom()}, isle.Limits{})
	if s := out.String(); !exit.Normal() || strings.Contains(s, "now: 9466848") || !strings.Contains(s, "crypto: ") {
		t.Errorf("granted clock and entropy not used: %v\n%s", exit, s)
	}
}

func TestLoadErrorsAreTyped(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	ctx := context.Background()
	if _, err := node.LoadModule(ctx, "text", []byte("hello")); !errors.Is(err, api.ErrNotWasm) {
		t.Errorf("text: %v", err)
	}
	if _, err := node.LoadModule(ctx, "broken", []byte("\x00asm\x01\x00\x00\x00\x01\x05")); !errors.Is(err, api.ErrInvalidModule) {
		t.Errorf("broken: %v", err)
	}
	_, err := node.LoadModuleFile(ctx, testwasm.WAT(t, "testdata/wat/missing.wat"))
	var missing *api.MissingImportsError
	if !errors.As(err, &missing) || len(missing.Missing) < 2 ||
		missing.Missing[0] != "env.host_magic" || missing.Missing[1] != "wasi_snapshot_preview1.no_such_call" {
		t.Errorf("missing imports: %v", err)
	}
}

func TestTrapIsTyped(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	mod := load(t, node, testwasm.C(t, "testdata/c/traps.c", "-O0", "-g"))
	exit := run(t, node, mod, isle.Grants{Args: []string{"traps", "divzero"}}, isle.Limits{})
	if exit.Kind != api.ExitAbandoned || exit.Abandon.Cause != api.CauseDivideByZero {
		t.Fatalf("exit: %v", exit)
	}
	f := exit.Abandon.Frames[0]
	if f.Function != "divide" || !strings.HasSuffix(f.File, "testdata/c/traps.c") || f.Line == 0 {
		t.Errorf("innermost frame: %+v", f)
	}
}

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	node := sharedNode(t)
	mod := load(t, node, testwasm.Go(t, "testdata/go/oom"))
	exit := run(t, node, mod, isle.Grants{}, isle.Limits{Memory: 32 << 20})
	if exit.Kind != api.ExitAbandoned || exit.Abandon.Cause != api.CauseRuntimeAbort ||
		!strings.Contains(exit.Abandon.Detail, "out of memory") {
		t.Fatalf("exit: %v", exit)
	}
	big := load(t, node, testwasm.WAT(t, "testdata/wat/bigmem.wat"))
	if _, err := node.Spawn(context.Background(), big, isle.Grants{}, isle.Limits{Memory: 1 << 20}); err == nil {
		t.Fatal("a module needing 256 MiB spawned under a 1 MiB limit")
	}
}
