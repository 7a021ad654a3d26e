package isle_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// The tests here drive Go guests written with the Go SDK (sdk/go/isle):
// testdata/go/sdkcmd, a command that runs one scenario per test and plays
// every child role, and testdata/go/reactor, a Go reactor. Both print or
// reply what they saw; the checks that can only be made from outside
// (exit reasons, elapsed time) are made here.

// sdkModules loads the SDK guests, the C echo reactor and a WAT child that
// traps (testdata/wat/spintrap.wat) into node.
type sdkModules struct {
	cmd, reactor, echo, trap *isle.Module
}

// sdkNode is the node the SDK tests run on: the shared one, where the Go
// guests are loaded once for the whole package.
func sdkNode(t *testing.T) *isle.Node { return sharedNode(t) }

func loadSDK(t *testing.T, node *isle.Node) sdkModules {
	t.Helper()
	return sdkModules{
		cmd:     load(t, node, testwasm.Go(t, "testdata/go/sdkcmd")),
		reactor: load(t, node, testwasm.Go(t, "testdata/go/reactor", "-buildmode=c-shared")),
		echo:    load(t, node, reactor(t, "testdata/c/echo.c")),
		trap:    load(t, node, testwasm.WAT(t, "testdata/wat/spintrap.wat")),
	}
}

// syncBuffer is a bytes.Buffer that a parent and its children (each on its
// own goroutine) can write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// scenario runs sdkcmd with args and returns how it ended and what it (and
// the children it gave stdio) printed.
func scenario(t *testing.T, node *isle.Node, mods sdkModules, clock bool, l isle.Limits, args ...string) (api.Exit, string) {
	t.Helper()
	var out syncBuffer
	g := isle.Grants{
		Args:   append([]string{"sdkcmd"}, args...),
		Stdout: &out,
		Stderr: &out,
		Clock:  clock,
		Spawn:  map[string]*isle.Module{"sdkcmd": mods.cmd, "reactor": mods.reactor, "echo": mods.echo, "trap": mods.trap},
	}
	exit := run(t, node, mods.cmd, g, l)
	return exit, out.String()
}

// expectOK fails unless the scenario exited 0, printed no FAIL line and
// printed "ok NAME" for every name.
func expectOK(t *testing.T, exit api.Exit, out string, names ...string) {
	t.Helper()
	if !exit.Normal() || strings.Contains(out, "FAIL") {
		t.Errorf("scenario failed: %v\n%s", exit, out)
		return
	}
	for _, n := range names {
		if !strings.Contains(out, "ok "+n+"\n") {
			t.Errorf("no %q in:\n%s", "ok "+n, out)
		}
	}
}

func TestSDKCommandCallsGoAndCReactors(t *testing.T) {
	t.Parallel()
	node := sdkNode(t)
	exit, out := scenario(t, node, loadSDK(t, node), false, isle.Limits{}, "both")
	expectOK(t, exit, out, "call-go", "big-go", "call-c", "big-c",
		"reactor-main-not-run", "reactor-spawns-command", "reactor-decline", "reply-too-big")
}

func TestSDKMessagesAreCopied(t *testing.T) {
	t.Parallel()
	node := sdkNode(t)
	mods := loadSDK(t, node)
	exit, out := scenario(t, node, mods, false, isle.Limits{}, "copy")
	expectOK(t, exit, out, "copy-to-reactor", "copy-to-self", "big-to-self", "too-big")

	// From the host too: the Go reactor keeps what it was sent.
	ctx := testwasm.Context(t)
	p, err := node.Spawn(ctx, mods.reactor, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte("host data")
	if err := p.Send(ctx, isle.Message{Tag: 10, Data: buf}); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXX")
	r, err := p.Call(ctx, isle.Message{Tag: 3})
	if err != nil || string(r.Data) != "host data" {
		t.Fatalf("stored %q, %v", r.Data, err)
	}
}

func TestSDKPerSenderOrder(t *testing.T) {
	t.Parallel()
	node := sdkNode(t)
	start := time.Now()
	exit, out := scenario(t, node, loadSDK(t, node), false, isle.Limits{}, "order")
	expectOK(t, exit, out, "order-command", "order-reactor", "sender-exit")
	t.Logf("20,000 messages from two senders to a command and a reactor: %v", time.Since(start))
}

func TestSDKBoundedMailbox(t *testing.T) {
	t.Parallel()
	node := sdkNode(t)
	exit, out := scenario(t, node, loadSDK(t, node), false, isle.Limits{Mailbox: 8}, "mailbox")
	expectOK(t, exit, out, "mailbox-fill", "mailbox-nothing-lost", "mailbox-blocking-send")
	t.Log(strings.TrimSpace(regexp.MustCompile(`mailbox: .*`).FindString(out)))
}

func TestSDKGone(t *testing.T) {
	t.Parallel()
	node := sdkNode(t)
	mods := loadSDK(t, node)
	exit, out := scenario(t, node, mods, true, isle.Limits{}, "gone")
	expectOK(t, exit, out, "gone-down", "gone-dead", "gone-kill-after-down", "gone-dropcall-exit", "gone-dropcall-panic",
		"gone-queuecall", "gone-decline")
	// Each ErrGone must come when the callee ends: at once, or for the
	// queued request once the callee's own 200 ms are out. 10 s is fifty
	// times that, which no slow machine needs, and a third of the
	// callers' deadline.
	for _, m := range regexp.MustCompile(`elapsed (\S+) (\d+)`).FindAllStringSubmatch(out, -1) {
		ms, _ := strconv.Atoi(m[2])
		if ms > 10_000 {
			t.Errorf("%s: ErrGone after %d ms, not when the callee ended", m[1], ms)
		}
		t.Logf("%s: ErrGone after %d ms", m[1], ms)
	}

	// The host as the caller: the request sits unread until the process
	// exits, 300 ms in. The call's deadline is the test's, so only the
	// exit can end it in time.
	ctx := testwasm.Context(t)
	p, err := node.Spawn(ctx, mods.cmd, isle.Grants{Args: []string{"sdkcmd", "hold"}}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.Call(ctx, isle.Message{Tag: 1})
	if !errors.Is(err, isle.ErrGone) {
		t.Fatalf("host call to a process that exited: %v after %v", err, time.Since(start))
	}
	if err := p.Send(ctx, isle.Message{Tag: 1}); !errors.Is(err, isle.ErrGone) {
		t.Fatalf("host send to an ended process: %v", err)
	}
}

func TestSDKExitReasons(t *testing.T) {
	t.Parallel()
	node := sdkNode(t)
	exit, out := scenario(t, node, loadSDK(t, node), false, isle.Limits{}, "exits")
	var names []string
	for _, role := range []string{"exit-0", "exit-3", "panic", "misuse", "wait"} {
		names = append(names, "exit-"+role+"-link", "exit-"+role+"-monitor")
	}
	expectOK(t, exit, out, append(names, "noproc-monitor", "noproc-link")...)
}

func TestSDKLinkedPeerDies(t *testing.T) {
	t.Parallel()
	node := sdkNode(t)
	mods := loadSDK(t, node)
	for _, c := range []struct {
		args   []string
		killed string // the wanted exit: killed with this prefix, or "" for normal
		out    string
	}{
		{[]string{"linkdie", "panic"}, "link: abandoned: runtime abort: go: panic: boom", ""},
		{[]string{"linkdie", "exit", "3"}, "link: exited with code 3", ""},
		{[]string{"linkdie", "misuse"}, "link: abandoned: ABI misuse: close: handle 12345", ""},
		{[]string{"linkdie", "exit", "0"}, "", "survived exited with code 0 ref=true\n"},
		{[]string{"linktrap", "panic"}, "", "trapped abandoned: abandoned: runtime abort: go: panic: boom"},
		{[]string{"linktrap", "exit", "3"}, "", "trapped normal: exited with code 3\n"},
	} {
		t.Run(strings.Join(c.args, "-"), func(t *testing.T) {
			// The peer's exit signal races with its DOWN message, which
			// must never win: repeat to catch it.
			for i := range 5 {
				exit, out := scenario(t, node, mods, false, isle.Limits{}, c.args...)
				if c.killed != "" {
					if exit.Kind != api.ExitKilled || !strings.HasPrefix(exit.Killed, c.killed) {
						t.Fatalf("run %d: exit %v, want killed: %s...\n%s", i, exit, c.killed, out)
					}
					continue
				}
				if !exit.Normal() || !strings.Contains(out, c.out) {
					t.Fatalf("run %d: exit %v, output %q; want normal and %q", i, exit, out, c.out)
				}
			}
		})
	}
}

// A linked process must be killed by its peer's death before it can see
// the peer's DOWN message and carry on (as in Erlang, where signals between
// two processes keep their order).
func TestSDKLinkKillsBeforeDown(t *testing.T) {
	t.Parallel()
	node := sdkNode(t)
	exit, out := scenario(t, node, loadSDK(t, node), false, isle.Limits{}, "linkrace")
	expectOK(t, exit, out, "link-kills-before-down")
}

func TestSDKSelectiveReceive(t *testing.T) {
	t.Parallel()
	node := sdkNode(t)
	exit, out := scenario(t, node, loadSDK(t, node), false, isle.Limits{}, "selective")
	expectOK(t, exit, out, "selective-timeout", "selective-order", "selective-system")
}

func TestSDKHandlesAndErrors(t *testing.T) {
	t.Parallel()
	node := sdkNode(t)
	mods := loadSDK(t, node)
	exit, out := scenario(t, node, mods, false, isle.Limits{}, "misc")
	expectOK(t, exit, out, "grant-not-found", "spawn-not-found", "trap-exits-previous", "demonitor",
		"unlink", "handle-moved")

	quotaNode, err := isle.NewNode(context.Background(), isle.Config{SpawnQuota: 3,
		CacheDir: testwasm.NodeCache(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer quotaNode.Close(context.Background())
	exit, out = scenario(t, quotaNode, loadSDK(t, quotaNode), false, isle.Limits{}, "quota")
	expectOK(t, exit, out, "quota")
}

// The host calls a Go reactor directly; a reactor that exits in a turn
// fails the call at once and ends normally with its code.
func TestSDKGoReactorFromHost(t *testing.T) {
	t.Parallel()
	node := sdkNode(t)
	mods := loadSDK(t, node)
	if !mods.reactor.Reactor() {
		t.Fatal("a Go module built with -buildmode=c-shared and the SDK is not a reactor")
	}
	ctx := testwasm.Context(t)
	p, err := node.Spawn(ctx, mods.reactor, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		data := []byte(fmt.Sprint("echo ", i))
		r, err := p.Call(ctx, isle.Message{Tag: 42, Data: data})
		if err != nil || r.Tag != 42 || !bytes.Equal(r.Data, data) {
			t.Fatalf("echo %d: %+v, %v", i, r, err)
		}
	}
	_, err = p.Call(ctx, isle.Message{Tag: 6, Data: binary.LittleEndian.AppendUint32(nil, 5)})
	if !errors.Is(err, isle.ErrGone) {
		t.Fatalf("call to a reactor that exits: %v", err)
	}
	exit, err := p.Wait(ctx)
	if err != nil || exit.Kind != api.ExitNormal || exit.Code != 5 {
		t.Fatalf("exit %v, %v", exit, err)
	}
}

// BenchmarkSDKGoReactorCall is a host call to a Go reactor: one turn of
// the SDK's handler path per iteration.
func BenchmarkSDKGoReactorCall(b *testing.B) {
	for _, size := range []int{8, 4096, 100_000} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			node, err := isle.NewNode(context.Background(), isle.Config{CacheDir: testwasm.NodeCache(b)})
			if err != nil {
				b.Fatal(err)
			}
			defer node.Close(context.Background())
			mod, err := node.LoadModuleFile(context.Background(), testwasm.Go(b, "testdata/go/reactor", "-buildmode=c-shared"))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			p, err := node.Spawn(ctx, mod, isle.Grants{}, isle.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := p.Call(ctx, isle.Message{Tag: 42, Data: data}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSDKGoRoundTrip is BenchmarkRoundTrip with two Go reactors
// (testdata/go/pingpong), for a few payload sizes: the SDK's cost per turn
// on top of the kernel's.
func BenchmarkSDKGoRoundTrip(b *testing.B) {
	for _, size := range []int{4, 4096, 100_000} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			ctx := context.Background()
			node, err := isle.NewNode(ctx, isle.Config{CacheDir: testwasm.NodeCache(b)})
			if err != nil {
				b.Fatal(err)
			}
			defer node.Close(ctx)
			mod, err := node.LoadModuleFile(ctx, testwasm.Go(b, "testdata/go/pingpong", "-buildmode=c-shared"))
			if err != nil {
				b.Fatal(err)
			}
			p, err := node.Spawn(ctx, mod, isle.Grants{Spawn: map[string]*isle.Module{"pingpong": mod}}, isle.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			start := func(n int) {
				req := binary.LittleEndian.AppendUint32(nil, uint32(n))
				req = binary.LittleEndian.AppendUint32(req, uint32(size))
				if _, err := p.Call(ctx, isle.Message{Tag: 1, Data: req}); err != nil {
					b.Fatal(err)
				}
			}
			start(100) // warm up: spawns the peer
			b.SetBytes(int64(2 * size))
			b.ResetTimer()
			start(b.N)
		})
	}
}

// The examples run as their READMEs say, with small inputs, so that they
// cannot rot unnoticed.
func TestSDKExamples(t *testing.T) {
	t.Parallel()
	node := sdkNode(t)
	goReactor := func(dir string) *isle.Module {
		return load(t, node, testwasm.Go(t, dir, "-buildmode=c-shared"))
	}
	runExample := func(t *testing.T, g isle.Grants) string {
		t.Helper()
		// The virtual clock: the examples time themselves, and a deadline
		// of theirs on the real clock (wordfreq gives itself a minute)
		// would make the test depend on the machine's speed.
		var out syncBuffer
		g.Stdout, g.Stderr = &out, &out
		mod := g.Spawn[g.Args[0]]
		if exit := run(t, node, mod, g, isle.Limits{}); !exit.Normal() {
			t.Fatalf("exit %v\n%s", exit, out.String())
		}
		return out.String()
	}

	t.Run("pingpong", func(t *testing.T) {
		out := runExample(t, isle.Grants{
			Args: []string{"pingpong", "-n", "200"},
			Spawn: map[string]*isle.Module{
				"pingpong": load(t, node, testwasm.Go(t, "examples/pingpong")),
				"pong":     goReactor("examples/pingpong/pong"),
			},
		})
		if !regexp.MustCompile(`(?s)200 round trips of 8 bytes.*call/reply.*send/receive.*send/send.* per round trip`).MatchString(out) {
			t.Errorf("output:\n%s", out)
		}
	})

	t.Run("ring", func(t *testing.T) {
		out := runExample(t, isle.Grants{
			Args: []string{"ring", "-n", "50", "-m", "3"},
			Spawn: map[string]*isle.Module{
				"ring": load(t, node, testwasm.Go(t, "examples/ring")),
				"node": load(t, node, reactor(t, "examples/ring/node/node.c")),
			},
		})
		if !strings.Contains(out, "spawned 50 C reactors") || !strings.Contains(out, "3 laps, 150 hops in") {
			t.Errorf("output:\n%s", out)
		}
	})

	t.Run("wordfreq", func(t *testing.T) {
		dir := t.TempDir()
		write := func(name, text string) {
			path := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("a.txt", "the cat and the hat")
		write("sub/b.txt", "The cat's hat.")
		write("big.txt", strings.Repeat("word ", 300_000)) // 1.5 MB: two workers
		out := runExample(t, isle.Grants{
			Args: []string{"wordfreq", "-top", "3"},
			Dirs: []isle.Dir{{Host: dir, Guest: "/data", ReadOnly: true}},
			Spawn: map[string]*isle.Module{
				"wordfreq": load(t, node, testwasm.Go(t, "examples/wordfreq")),
				"worker":   goReactor("examples/wordfreq/worker"),
				"reducer":  goReactor("examples/wordfreq/reducer"),
			},
		})
		for _, want := range []string{"3 files, 4 workers", "300008 words, 6 distinct\n",
			"  300000 word\n", "       3 the\n", "       2 hat\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in output:\n%s", want, out)
			}
		}
	})
}
