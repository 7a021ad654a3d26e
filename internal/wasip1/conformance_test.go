package wasip1_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// The conformance programs in testdata call WASI preview1 directly and
// print "ok NAME" or "FAIL NAME: ..." for every check, NAME being
// "function/case". A test runs one and wants every check named in its
// source to have passed, so a check that silently stopped running fails
// too.

// deadline bounds every run: a conformance program that hangs is a
// failure, not a stuck test.
const deadline = time.Minute

var (
	nodeOnce sync.Once
	node     *isle.Node
	nodeErr  error
)

func testNode(t *testing.T) *isle.Node {
	t.Helper()
	nodeOnce.Do(func() { node, nodeErr = isle.NewNode(context.Background(), isle.Config{}) })
	if nodeErr != nil {
		t.Fatal(nodeErr)
	}
	return node
}

// buildC builds a conformance program from testdata.
func buildC(t *testing.T, name string) []byte {
	t.Helper()
	return testwasm.Read(t, testwasm.C(t, "internal/wasip1/testdata/"+name, "-O1", "-Wno-unused-result"))
}

// run spawns wasm with g and waits for it, within the deadline.
func run(t *testing.T, wasm []byte, g isle.Grants) (stdout string, exit api.Exit) {
	t.Helper()
	n := testNode(t)
	ctx := context.Background()
	mod, err := n.LoadModule(ctx, t.Name(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if g.Stdout == nil {
		g.Stdout = &out
	}
	p, err := n.Spawn(ctx, mod, g, isle.Limits{Timeout: deadline})
	if err != nil {
		t.Fatal(err)
	}
	exit, err = p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), exit
}

var checkName = regexp.MustCompile(`"((?:args|environ|clock|fd|path|poll|proc|sched|random|sock|libc|go)_[a-z_]+/[a-z0-9-]+)"`)

// wantAllOK checks a program's report against the checks in its source.
func wantAllOK(t *testing.T, src, out string) {
	t.Helper()
	passed := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "ok "):
			passed[strings.TrimPrefix(line, "ok ")] = true
		case strings.HasPrefix(line, "FAIL"):
			t.Error(line)
		}
	}
	if !strings.Contains(out, "\ndone\n") {
		t.Errorf("the program did not finish; its output:\n%s", out)
	}
	b, err := os.ReadFile(testwasm.Path("internal/wasip1/testdata/" + src))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range checkName.FindAllStringSubmatch(string(b), -1) {
		if !passed[m[1]] {
			t.Errorf("%s: no ok line", m[1])
		}
	}
}

func scratch(t *testing.T) []isle.Dir {
	return []isle.Dir{{Host: t.TempDir(), Guest: "/scratch"}}
}

func TestConformanceDescriptors(t *testing.T) {
	out, exit := run(t, buildC(t, "fds.c"), isle.Grants{Dirs: scratch(t), Stdin: strings.NewReader("stdin!")})
	if !exit.Normal() {
		t.Errorf("exit %v", exit)
	}
	wantAllOK(t, "fds.c", out)
}

func TestConformancePaths(t *testing.T) {
	out, exit := run(t, buildC(t, "paths.c"), isle.Grants{Dirs: scratch(t)})
	if !exit.Normal() {
		t.Errorf("exit %v", exit)
	}
	wantAllOK(t, "paths.c", out)
}

// promptWriter is the guest's stdout: once the guest prints "need-input"
// it sends "ping\n" on stdin and then ends it, so the guest sees stdin
// empty first and then ready, with no timing involved.
type promptWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
	in   *io.PipeWriter
}

func (w *promptWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(b)
	prompted := strings.Contains(w.buf.String(), "need-input\n")
	w.mu.Unlock()
	if prompted {
		w.once.Do(func() {
			go func() {
				_, _ = w.in.Write([]byte("ping\n"))
				_ = w.in.Close()
			}()
		})
	}
	return len(b), nil
}

func (w *promptWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestConformancePoll(t *testing.T) {
	for _, clock := range []bool{false, true} {
		name := "virtual-clock"
		if clock {
			name = "real-clock"
		}
		t.Run(name, func(t *testing.T) {
			inR, inW := io.Pipe()
			defer inW.Close()
			out := &promptWriter{in: inW}
			_, exit := run(t, buildC(t, "poll.c"), isle.Grants{
				Dirs: scratch(t), Stdin: inR, Stdout: out, Clock: clock,
				Env: []string{"A=1", "B=22"}, Random: isle.SeededRandom(1), Args: []string{"poll"},
			})
			if exit.Kind != api.ExitNormal || exit.Code != 7 {
				t.Errorf("exit %v; want proc_exit's code 7", exit)
			}
			wantAllOK(t, "poll.c", out.String())
		})
	}
}

// A process that has no directories and cannot receive directory handles
// has fd 3 free; one that imports recv finds /.cap there.
func TestFirstFreeFD(t *testing.T) {
	plain := testwasm.Read(t, testwasm.C(t, "internal/wasip1/testdata/firstfd.c", "-O1"))
	out, exit := run(t, plain, isle.Grants{})
	if !exit.Normal() || out != "fdstat3 8\n" {
		t.Errorf("plain program: exit %v, output %q; want fd 3 free (EBADF, 8)", exit, out)
	}
	recv := testwasm.Read(t, testwasm.C(t, "internal/wasip1/testdata/firstfd.c", "-O1", "-DRECV"))
	out, exit = run(t, recv, isle.Grants{})
	if !exit.Normal() || out != "fdstat3 0\npreopen3 /.cap\n" {
		t.Errorf("program importing recv: exit %v, output %q; want /.cap at fd 3", exit, out)
	}
	out, exit = run(t, plain, isle.Grants{Dirs: scratch(t)})
	if !exit.Normal() || out != "fdstat3 0\npreopen3 /scratch\n" {
		t.Errorf("program given a directory: exit %v, output %q; want it at fd 3", exit, out)
	}
}

// Real programs: C through wasi-libc's POSIX layer, and Go's wasip1 port.
func TestRealWorldC(t *testing.T) {
	for _, clock := range []bool{false, true} {
		out, exit := run(t, buildC(t, "realworld.c"), isle.Grants{Dirs: scratch(t), Stdin: strings.NewReader("hello\n"), Clock: clock})
		if !exit.Normal() {
			t.Errorf("clock %v: exit %v", clock, exit)
		}
		wantAllOK(t, "realworld.c", out)
	}
}

func TestRealWorldGo(t *testing.T) {
	wasm := testwasm.Read(t, testwasm.Go(t, "internal/wasip1/testdata/goio"))
	for _, clock := range []bool{false, true} {
		out, exit := run(t, wasm, isle.Grants{Dirs: scratch(t), Stdin: strings.NewReader("alpha\nbeta\n"), Clock: clock})
		if !exit.Normal() {
			t.Errorf("clock %v: exit %v", clock, exit)
		}
		wantAllOK(t, "goio/main.go", out)
	}
}
