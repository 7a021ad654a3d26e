package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// isleBin is the CLI under test, built once for the whole package so the
// tests drive it exactly as a user would. One thing differs: wazero is
// told its version is "dev", as it is in every test binary (which carries
// no dependency build information), so that the CLI finds the modules
// the package tests and their helpers compiled into testwasm.NodeCache.
var isleBin string

func TestMain(m *testing.M) {
	if os.Getenv(peakRSSEnv) != "" {
		os.Exit(measurePeakRSS(os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "isle-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	isleBin = filepath.Join(dir, "isle")
	build := exec.Command("go", "build", "-ldflags=-X=github.com/tetratelabs/wazero/internal/version.version=dev", "-o", isleBin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build isle: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the CLI.
type result struct {
	stdout, stderr string
	status         int
}

// isle runs the CLI with a private cache directory.
func runIsle(t *testing.T, args ...string) result {
	t.Helper()
	return isleIn(t, "", args...)
}

// isleIn runs the CLI with stdin, and fails the test if it has not ended
// by the test's deadline.
func isleIn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx := testwasm.Context(t)
	cmd := exec.CommandContext(ctx, isleBin, args...)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome(t))
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("isle %q did not end before the test's deadline\nstdout:\n%s\nstderr:\n%s", args, stdout.String(), stderr.String())
	}
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run isle: %v", err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), status: status}
}

// cacheHome is the XDG_CACHE_HOME the CLI runs with: the directory above
// testwasm.NodeCache, kept across runs and keyed by the kernel's content,
// so that a module compiles once per machine, not once per run.
func cacheHome(t *testing.T) string {
	t.Helper()
	return filepath.Dir(testwasm.NodeCache(t))
}

func (r result) want(t *testing.T, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.status, status, r.stdout, r.stderr)
	}
}

func TestExitCodePassesThrough(t *testing.T) {
	t.Parallel()
	exitWasm := testwasm.WAT(t, "testdata/wat/exit.wat")
	runIsle(t, "run", exitWasm).want(t, 7)

	dir := testwasm.GoDir(t, "testdata/go/exitcode")
	for _, code := range []int{0, 1, 3, 123} {
		runIsle(t, "run", dir, "--", fmt.Sprint(code)).want(t, code)
	}
	r := runIsle(t, "run", dir, "--", "200")
	r.want(t, statusCodeRange)
	if !strings.Contains(r.stderr, "exited with code 200, reported as 127") {
		t.Errorf("stderr does not explain the remapped code:\n%s", r.stderr)
	}
}

func TestOrdinaryGoProgram(t *testing.T) {
	t.Parallel()
	in := t.TempDir()
	out := t.TempDir()
	os.WriteFile(filepath.Join(in, "a.txt"), []byte("the cat sat\non the mat\n"), 0o644)
	os.MkdirAll(filepath.Join(in, "sub"), 0o755)
	os.WriteFile(filepath.Join(in, "sub", "b.txt"), []byte("The end"), 0o644)
	r := runIsle(t, "run", "--ro-dir", in+"::/in", "--dir", out+"::/out", "--env", "HOME=/home/guest",
		testwasm.GoDir(t, "testdata/go/files"), "--", "-in", "/in", "-out", "/out/report.txt", "-greet", "isle")
	r.want(t, 0)
	want := "cat 1\nend 1\nmat 1\non 1\nsat 1\nthe 3\n"
	if !strings.HasPrefix(r.stdout, "hello, isle (HOME=\"/home/guest\")\n") || !strings.HasSuffix(r.stdout, want) {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	got, err := os.ReadFile(filepath.Join(out, "report.txt"))
	if err != nil || string(got) != want {
		t.Errorf("report.txt = %q, %v; want %q", got, err, want)
	}
}

func TestCProgram(t *testing.T) {
	t.Parallel()
	hello := testwasm.C(t, "testdata/c/hello.c", "-O2")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "in.txt"), []byte("one two\nthree\n"), 0o644)
	r := runIsle(t, "run", "--dir", dir+"::/work", hello, "--", "/work/in.txt", "/work/out.txt")
	r.want(t, 0)
	if r.stdout != "hello from C, argc=3\nlines=2 words=3\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out.txt")); string(b) != "lines=2 words=3\n" {
		t.Errorf("out.txt = %q", b)
	}
}

func TestDeterministicRunsAreIdentical(t *testing.T) {
	t.Parallel()
	dir := testwasm.GoDir(t, "testdata/go/determinism")
	a := runIsle(t, "run", "--deterministic", dir, "--", "-crypto")
	a.want(t, 0)
	b := runIsle(t, "run", "--deterministic", dir, "--", "-crypto")
	b.want(t, 0)
	if a.stdout != b.stdout {
		t.Fatalf("two deterministic runs differ:\n%s\n---\n%s", a.stdout, b.stdout)
	}
	if !strings.Contains(a.stdout, "crypto: ") || strings.Contains(a.stdout, "error") {
		t.Fatalf("unexpected output:\n%s", a.stdout)
	}
	// Without the flag the program sees the real clock and entropy, so the
	// comparison above is not vacuous.
	c := runIsle(t, "run", dir, "--", "-crypto")
	d := runIsle(t, "run", dir, "--", "-crypto")
	if c.stdout == d.stdout {
		t.Fatalf("two real-clock runs printed the same thing; the test proves nothing:\n%s", c.stdout)
	}
}

func TestStdinReachesTheGuest(t *testing.T) {
	t.Parallel()
	r := isleIn(t, "one\ntwo\n", "run", testwasm.GoDir(t, "testdata/go/cat"))
	r.want(t, 0)
	if r.stdout != "ONE\nTWO\n" || !strings.Contains(r.stderr, "2 lines") {
		t.Fatalf("stdout %q stderr %q", r.stdout, r.stderr)
	}
}

// A guest blocked reading a stdin nobody writes to still stops at its
// timeout: the read must not hold the process, or the node, hostage.
// (Were it held, the command would end only at the test's deadline.) The
// guest is compiled first, and echoes a line before it blocks, so the
// timeout is known to have struck the read and not the loading.
func TestTimeoutInterruptsABlockedStdinRead(t *testing.T) {
	t.Parallel()
	wasm := testwasm.Go(t, "testdata/go/cat")
	testwasm.Precompile(t, wasm)
	cmd := exec.CommandContext(testwasm.Context(t), isleBin, "run", "--timeout", "3s", wasm)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome(t))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe() // written once, then held open
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "one\n")
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ONE\n" {
		cmd.Wait()
		t.Fatalf("the guest did not echo before blocking (got %q); stderr:\n%s", line, stderr.String())
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != statusTimeout {
		t.Fatalf("exit %d, want %d:\n%s", code, statusTimeout, stderr.String())
	}
}
