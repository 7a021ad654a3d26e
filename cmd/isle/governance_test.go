package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// runMeasured runs the CLI and also returns its peak resident memory in
// bytes, as the kernel measured it from outside (see measurePeakRSS).
func runMeasured(t *testing.T, args ...string) (result, int64) {
	t.Helper()
	ctx := testwasm.Context(t)
	peak, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer peak.Close()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{isleBin}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome(t), peakRSSEnv+"=1")
	cmd.ExtraFiles = []*os.File{w}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	w.Close()
	if ctx.Err() != nil {
		t.Fatalf("isle %q did not end before the test's deadline\nstdout:\n%s\nstderr:\n%s", args, stdout.String(), stderr.String())
	}
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run isle: %v", err)
	}
	figure, err := io.ReadAll(peak)
	if err != nil {
		t.Fatal(err)
	}
	rss, err := strconv.ParseInt(string(figure), 10, 64)
	if err != nil {
		t.Fatalf("the measurer reported no peak RSS (%q): %v\nstderr:\n%s", figure, err, stderr.String())
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), status: status}, rss
}

// peakRSSEnv makes the test binary a measurer (see TestMain).
const peakRSSEnv = "ISLE_TEST_PEAK_RSS"

// measurePeakRSS runs the command args name, passing its standard streams
// through, writes its peak RSS in bytes to file descriptor 3, and returns
// its exit status.
//
// The test binary cannot measure the CLI directly: Go starts a child with
// vfork, sharing its memory until the exec, and Linux then keeps the
// parent's peak RSS as the child's starting peak, so wait4's figure for
// the CLI is never below the test binary's own peak, which the other
// tests have grown (a test once saw 225 MiB for every run). A freshly
// started measurer passes on only its own small peak.
func measurePeakRSS(args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with its measurer
	err := cmd.Run()
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "measurer:", err)
		return 125
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
	fmt.Fprint(os.NewFile(3, "peak"), rss)
	return status
}

// Under --memory 16MiB, what the guest makes the node hold outside its
// linear memory is bounded too: a deep recursion is abandoned with "stack
// exhausted" and a table grown without end stops growing. Before, they
// took 167 MB and 143 MB. The bound checked is the node's whole peak RSS,
// measured by the kernel, so it includes isle's own ~30 MB.
func TestMemoryLimitCoversStackAndTables(t *testing.T) {
	const bound = 100 << 20
	r, rss := runMeasured(t, "run", "--memory", "16MiB", testwasm.WAT(t, "testdata/wat/stack.wat"))
	r.want(t, statusAbandoned)
	if !strings.Contains(r.stderr, "stack exhausted: the call stack cannot grow") {
		t.Errorf("stderr: %s", r.stderr)
	}
	if rss > bound {
		t.Errorf("a recursion under --memory 16MiB peaked at %d MiB of RSS", rss>>20)
	}
	r, rss = runMeasured(t, "run", "--memory", "16MiB", testwasm.WAT(t, "testdata/wat/tablegrow.wat"))
	if r.status == 0 || r.status >= 64 {
		t.Errorf("the table grew %d times by 65,536 entries under --memory 16MiB", r.status)
	}
	if rss > bound {
		t.Errorf("a table grown under --memory 16MiB peaked at %d MiB of RSS", rss>>20)
	}
}

// overhead is the RSS, in MiB, the CLI may hold beyond its tree's memory
// limit: isle's own, 27 to 36 MiB measured, with room to spare, but less
// than the 64 MiB a copied memory once added.
const overhead = 48

// A parent spawning 200 children that each take memory until they cannot
// holds the node to the tree's --memory, plus isle's own: 23 children
// once held 1.39 GB under --memory 64MiB.
func TestMemoryLimitCoversDescendants(t *testing.T) {
	hostile := testwasm.C(t, "testdata/c/hostile.c", "-O2")
	r, rss := runMeasured(t, "run", "--memory", "64MiB", "--stats", "--spawn", "hostile="+hostile, hostile, "--", "hogs")
	if !strings.Contains(r.stdout, "hogs done") {
		t.Fatalf("the attack did not run: status %d\n%s\n%s", r.status, r.stdout, r.stderr)
	}
	t.Logf("peak RSS %d MiB", rss>>20)
	if rss > (64+overhead)<<20 {
		t.Errorf("a tree under --memory 64MiB peaked at %d MiB of RSS", rss>>20)
	}
}

// Six children of a tree under --memory 400MiB each fill 64 MiB of linear
// memory and then grow past it together, so that each moves to a larger
// region at once (internal/linmem). The node holds what the tree does
// plus isle's own (about 30 MiB) throughout: when a move copied, each
// held its 64 MiB twice while it ran, and this tree took the node to 480
// MiB and more (727 MiB for a tree of growing children once).
func TestMemoryLimitCoversMovingMemories(t *testing.T) {
	hostile := testwasm.C(t, "testdata/c/hostile.c", "-O2")
	r, rss := runMeasured(t, "run", "--memory", "400MiB", "--stats", "--spawn", "hostile="+hostile, hostile, "--", "movers")
	if !strings.Contains(r.stdout, "movers done: 6") || strings.Contains(r.stdout, "mover:") {
		t.Fatalf("the attack did not run: status %d\n%s\n%s", r.status, r.stdout, r.stderr)
	}
	t.Logf("peak RSS %d MiB", rss>>20)
	if rss > (400+overhead)<<20 {
		t.Errorf("a tree of 390 MiB under --memory 400MiB took the node to %d MiB of RSS", rss>>20)
	}
}

// A loop of 16 MiB memory.fill and memory.copy dies at its --timeout: it
// once held a 1 s timeout off for 74 s.
func TestTimeoutStopsBulkMemory(t *testing.T) {
	r, _ := runMeasured(t, "run", "--timeout", "1s", testwasm.WAT(t, "testdata/wat/fill.wat"))
	r.want(t, statusTimeout)
}

// --files and --processes, and their manifest keys, bound the guest's tree:
// the guest opens a file and spawns children until refused, and says how
// far it got.
func TestTreeBoundsFromFlagsAndManifest(t *testing.T) {
	t.Parallel()
	hostile := testwasm.C(t, "testdata/c/hostile.c", "-O2")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	opened := func(r result) int {
		t.Helper()
		var n int
		var why string
		if _, err := fmt.Sscanf(r.stdout, "opened %d, then %s", &n, &why); err != nil || why != "EMFILE" {
			t.Fatalf("the guest said %q (status %d, stderr %q); want \"opened N, then EMFILE\"", r.stdout, r.status, r.stderr)
		}
		return n
	}
	free := opened(runIsle(t, "run", "--ro-dir", dir+"::/d", hostile, "--", "files", "/d/f"))
	bound := opened(runIsle(t, "run", "--files", "8", "--ro-dir", dir+"::/d", hostile, "--", "files", "/d/f"))
	if bound != 8 || free < 500 {
		t.Errorf("opened %d files under --files 8 and %d without it", bound, free)
	}
	manifest := filepath.Join(dir, "app.toml")
	os.WriteFile(manifest, []byte(fmt.Sprintf(`
module = %q
args = ["files", "/d/f"]
stdio = true

[limits]
files = 8

[caps.d]
kind = "dir"
path = %q
rights = ["read"]
mount = "/d"
`, hostile, dir)), 0o644)
	if n := opened(runIsle(t, "run", manifest)); n != bound {
		t.Errorf("opened %d files under files = 8 in a manifest, %d under --files 8", n, bound)
	}
	r := runIsle(t, "run", "--processes", "3", "--spawn", "hostile="+hostile, hostile, "--", "spawns")
	r.want(t, 0)
	if r.stdout != "spawned 2, then -7\n" { // ELIMIT: the root and two children
		t.Errorf("under --processes 3 the guest said %q", r.stdout)
	}
	r = runIsle(t, "run", "--files", "-1", hostile)
	r.want(t, statusUsage)
	if !strings.Contains(r.stderr, "must not be negative") {
		t.Errorf("--files -1: %q", r.stderr)
	}
}
