package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// runMeasured runs the CLI and also returns its peak resident memory in
// bytes, as the kernel measured it from outside.
func runMeasured(t *testing.T, args ...string) (result, int64) {
	t.Helper()
	cmd := exec.Command(isleBin, args...)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome(t))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run isle: %v", err)
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
	return result{stdout: stdout.String(), stderr: stderr.String(), status: status}, rss
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

// A parent spawning 200 children that each take memory until they cannot
// holds the node to the tree's --memory: 23 children once held 1.39 GB
// under --memory 64MiB.
func TestMemoryLimitCoversDescendants(t *testing.T) {
	hostile := testwasm.C(t, "testdata/c/hostile.c", "-O2")
	r, rss := runMeasured(t, "run", "--memory", "64MiB", "--stats", "--spawn", "hostile="+hostile, hostile, "--", "hogs")
	if !strings.Contains(r.stdout, "hogs done") {
		t.Fatalf("the attack did not run: status %d\n%s\n%s", r.status, r.stdout, r.stderr)
	}
	if rss > 200<<20 {
		t.Errorf("a tree under --memory 64MiB peaked at %d MiB of RSS", rss>>20)
	}
}

// A loop of 16 MiB memory.fill and memory.copy dies at its --timeout: it
// once held a 1 s timeout off for 74 s.
func TestTimeoutStopsBulkMemory(t *testing.T) {
	r, _ := runMeasured(t, "run", "--timeout", "1s", testwasm.WAT(t, "testdata/wat/fill.wat"))
	r.want(t, statusTimeout)
}
