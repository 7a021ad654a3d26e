package main

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// A loop with no calls stops at --timeout: fuel brings it back to the host.
// (Were it not stopped, runIsle would fail at the test's deadline.)
func TestTimeoutStopsALoopWithNoCalls(t *testing.T) {
	t.Parallel()
	spin := testwasm.WAT(t, "testdata/wat/spin.wat")
	r := runIsle(t, "run", "--timeout", "300ms", spin)
	r.want(t, statusTimeout)
	if !strings.Contains(r.stderr, "killed: timeout") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestFuelBudgetAbandons(t *testing.T) {
	t.Parallel()
	spin := testwasm.WAT(t, "testdata/wat/spin.wat")
	r := runIsle(t, "run", "--fuel", "5000000", "--stats", spin)
	r.want(t, statusAbandoned)
	if !strings.Contains(r.stderr, "abandoned: fuel exhausted: spent its budget of 5000000") {
		t.Errorf("stderr: %s", r.stderr)
	}
	m := regexp.MustCompile(`isle: fuel (\d+), peak memory ([0-9.]+ \w+) \(linear [0-9.]+ \w+\), wall `).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no stats line in:\n%s", r.stderr)
	}
	if used, _ := strconv.ParseInt(m[1], 10, 64); used < 5_000_000 {
		t.Errorf("fuel used %d, under the budget it exhausted", used)
	}
}

// The same program on the same input spends the same fuel.
func TestFuelIsDeterministic(t *testing.T) {
	t.Parallel()
	dir := testwasm.GoDir(t, "testdata/go/determinism")
	fuelOf := func() string {
		r := runIsle(t, "run", "--deterministic", "--stats", dir)
		r.want(t, 0)
		m := regexp.MustCompile(`isle: fuel (\d+),`).FindStringSubmatch(r.stderr)
		if m == nil {
			t.Fatalf("no stats line in:\n%s", r.stderr)
		}
		return m[1]
	}
	a, b := fuelOf(), fuelOf()
	if a != b || a == "0" {
		t.Fatalf("fuel %s then %s", a, b)
	}
}

// SIGINT ends a running guest with status 130, even one in a loop with no
// calls. The guest says when its loop begins; by then isle handles SIGINT.
func TestInterruptStopsTheGuest(t *testing.T) {
	t.Parallel()
	cmd := exec.CommandContext(testwasm.Context(t), isleBin, "run", testwasm.WAT(t, "testdata/wat/announce.wat"))
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome(t))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "spinning\n" {
		cmd.Process.Kill()
		t.Fatalf("the guest said %q, %v; want spinning", line, err)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() == -1 {
		t.Fatalf("isle did not stop on SIGINT before the test's deadline: %v; stderr: %s", err, stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != statusInterrupt {
		t.Fatalf("exit %d, want %d; stderr: %s", code, statusInterrupt, stderr.String())
	}
}
