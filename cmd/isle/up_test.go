package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// started is a CLI process whose stderr is read line by line, so that a
// test can wait for a line.
type started struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	more  chan struct{}
	done  chan struct{}
}

func startIsle(t *testing.T, args ...string) *started {
	t.Helper()
	return startWith(t, nil, false, args...)
}

// startWith starts the CLI with env added to the tests' own, reading its
// stderr (or, with stdout, its standard output) line by line.
func startWith(t *testing.T, env []string, stdout bool, args ...string) *started {
	t.Helper()
	s := &started{more: make(chan struct{}), done: make(chan struct{})}
	s.cmd = exec.CommandContext(testwasm.Context(t), isleBin, args...)
	s.cmd.Env = append(append(os.Environ(), "XDG_CACHE_HOME="+cacheHome(t)), env...)
	var out io.Reader
	var err error
	if stdout {
		out, err = s.cmd.StdoutPipe()
	} else {
		out, err = s.cmd.StderrPipe()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill() })
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			close(s.more)
			s.more = make(chan struct{})
			s.mu.Unlock()
		}
	}()
	return s
}

// wait returns the submatches of the first stderr line matching re.
func (s *started) wait(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	ctx := testwasm.Context(t)
	for {
		s.mu.Lock()
		for _, l := range s.lines {
			if m := rx.FindStringSubmatch(l); m != nil {
				s.mu.Unlock()
				return m
			}
		}
		more := s.more
		s.mu.Unlock()
		select {
		case <-more:
		case <-s.done:
			t.Fatalf("isle ended before printing %q:\n%s", re, s.stderr())
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %q:\n%s", re, s.stderr())
		}
	}
}

func (s *started) stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// stop sends sig and returns the exit status.
func (s *started) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	testwasm.Await(t, s.done, "isle to end")
	err := s.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// isle up runs an application: its HTTP service heals after a crash (the
// crashing request alone gets 502, and a crash report is logged), and
// SIGTERM stops it in order with status 0.
func TestUpHealsAndStops(t *testing.T) {
	t.Parallel()
	fn := testwasm.C(t, "testdata/c/httpfn.c", "-O2", "-mexec-model=reactor")
	svc := testwasm.C(t, "testdata/c/svc.c", "-O2", "-mexec-model=reactor")
	app := writeFile(t, t.TempDir(), "app.toml", fmt.Sprintf(`
name = "demo"
[supervisor]
intensity = 10
[[service]]
name = "helper"
module = %q
args = ["worker"]
[[service]]
name = "fn"
module = %q
http = "127.0.0.1:0"
uses = ["helper"]
`, svc, fn))
	s := startIsle(t, "up", app)
	url := s.wait(t, `^isle: serving fn on (http://\S+)$`)[1]
	s.wait(t, `^isle: demo is up: 2 services under 1 supervisor`)
	for i, c := range []struct {
		path string
		want int
	}{{"/hello", 200}, {"/die", 502}, {"/hello", 200}, {"/die", 502}, {"/hello", 200}} {
		if got := get(t, url+c.path); got != c.want {
			t.Fatalf("request %d, %s: %d, want %d\n%s", i, c.path, got, c.want, s.stderr())
		}
	}
	s.wait(t, `level=ERROR msg="crash report" supervisor=demo service=fn restarts=1 reason="abandoned: unreachable`)
	if status := s.stop(t, syscall.SIGTERM); status != 0 {
		t.Fatalf("status %d after SIGTERM\n%s", status, s.stderr())
	}
	if !strings.Contains(s.stderr(), "isle: demo stopped") {
		t.Errorf("stderr:\n%s", s.stderr())
	}
}

// isle run --http supervises its process: a crash fails only its own
// request.
func TestRunHTTPHeals(t *testing.T) {
	t.Parallel()
	fn := testwasm.C(t, "testdata/c/httpfn.c", "-O2", "-mexec-model=reactor")
	s := startIsle(t, "run", "--http", "127.0.0.1:0", fn)
	url := s.wait(t, `^isle: serving HTTP on (http://\S+)$`)[1]
	for i, c := range []struct {
		path string
		want int
	}{{"/hello", 200}, {"/die", 502}, {"/hello", 200}} {
		if got := get(t, url+c.path); got != c.want {
			t.Fatalf("request %d, %s: %d, want %d\n%s", i, c.path, got, c.want, s.stderr())
		}
	}
	if status := s.stop(t, syscall.SIGINT); status != statusInterrupt {
		t.Fatalf("status %d after SIGINT\n%s", status, s.stderr())
	}
}

// A bad application manifest gets one line naming the file and the key,
// and status 126, before anything runs.
func TestUpBadManifests(t *testing.T) {
	t.Parallel()
	mod := testwasm.C(t, "testdata/c/svc.c", "-O2", "-mexec-model=reactor")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	service := func(name, extra string) string {
		return fmt.Sprintf("[[service]]\nname = %q\nmodule = %q\n%s\n", name, mod, extra)
	}
	for _, c := range []struct{ name, text, want string }{
		{"unknown use", service("a", `uses = ["b"]`), `service.a.uses: no sibling service is called "b"`},
		{"cycle", service("a", `uses = ["b"]`) + service("b", `uses = ["c"]`) + service("c", `uses = ["a"]`),
			`uses: a cycle: a -> b -> c -> a`},
		{"bad strategy", "[supervisor]\nstrategy = \"one_for_some\"\n" + service("a", ""),
			`supervisor.strategy: "one_for_some" is not one_for_one, one_for_all or rest_for_one`},
		{"duplicate name", service("a", "") + service("a", ""), `service.a: the name "a" is used by two services of one supervisor`},
		{"bad restart", service("a", `restart = "sometimes"`), `service.a.restart: "sometimes" is not permanent, transient or temporary`},
		{"port in use", service("a", fmt.Sprintf("http = %q", busy.Addr())), "service.a.http: listen tcp " + busy.Addr().String()},
		{"unknown key", service("a", `colour = "red"`), `unknown key "service.colour"`},
		{"no services", "name = \"x\"\n", `service: an application needs at least one [[service]]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, dir, strings.ReplaceAll(c.name, " ", "-")+".toml", c.text)
			r := runIsle(t, "up", path)
			r.want(t, statusUsage)
			if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 ||
				!strings.Contains(r.stderr, path+": ") || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("stderr %q; want one line naming %s and saying %q", r.stderr, path, c.want)
			}
		})
	}
}

// isle's own flags after MODULE are an error, not the guest's arguments:
// `isle run spin.wasm --timeout 2s` once ran unbounded.
func TestRunFlagAfterModule(t *testing.T) {
	t.Parallel()
	spin := testwasm.WAT(t, "testdata/wat/spin.wat")
	r := runIsle(t, "run", spin, "--timeout", "2s")
	r.want(t, statusUsage)
	if !strings.Contains(r.stderr, "flag -timeout comes after the module") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	// After --, it is the guest's.
	exit := testwasm.WAT(t, "testdata/wat/exit.wat")
	runIsle(t, "run", exit, "--", "--timeout", "2s").want(t, 7)
}

// A manifest's own [caps.spawner] is the program's spawner (it once failed
// with "grant name spawner is used twice"), and a manifest that grants no
// stdio says so.
func TestManifestSpawnerAndStdioNotice(t *testing.T) {
	t.Parallel()
	exit := testwasm.WAT(t, "testdata/wat/exit.wat")
	path := writeFile(t, t.TempDir(), "app.toml", fmt.Sprintf(`
module = %q
[caps.spawner]
kind = "spawner"
modules = { again = %q }
`, exit, exit))
	r := runIsle(t, "run", path)
	r.want(t, 7)
	if !strings.Contains(r.stderr, "grants no stdio, so the program's output goes nowhere") {
		t.Fatalf("stderr: %s", r.stderr)
	}
}
