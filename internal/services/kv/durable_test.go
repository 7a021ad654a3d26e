package kv

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/isle-run/isle/internal/testwasm"
)

// TestKill9 is the durability test. A program embedding isle
// (testdata/writer) runs four guests that put keys as fast as the store
// commits them, and prints "acked KEY" after each put a guest reports as
// successful. The test kills it with SIGKILL at a varying point, three
// times over on the same data directory, then runs it with -check: every
// acked key must be there with its value, and the store must take writes.
// Finally bbolt's own consistency check must pass on the file.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a program")
	}
	tmp := t.TempDir()
	writer := filepath.Join(tmp, "writer")
	build := exec.Command("go", "build", "-o", writer, "./testdata/writer")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the writer: %v\n%s", err, out)
	}
	guest := testwasm.C(t, "testdata/c/kv.c", "-O2", "-mexec-model=reactor")
	data, cache := filepath.Join(tmp, "data"), filepath.Join(tmp, "cache")
	args := func(extra ...string) []string {
		return append([]string{"-data", data, "-cache", cache, "-guest", guest}, extra...)
	}

	var acked []string
	for round, killAt := range []int{150, 400, 250} {
		cmd := exec.Command(writer, args("-prefix", "r"+string(rune('a'+round)))...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it if it is still running at the test's deadline, so that
		// a hang fails the test instead of timing it out.
		stall := context.AfterFunc(testwasm.Context(t), func() { _ = cmd.Process.Kill() })
		sc := bufio.NewScanner(stdout)
		n := 0
		for sc.Scan() {
			key, ok := strings.CutPrefix(sc.Text(), "acked ")
			if !ok {
				t.Fatalf("round %d: writer said %q", round, sc.Text())
			}
			acked = append(acked, key)
			if n++; n == killAt {
				// SIGKILL: no deferred function, no flush, no Close.
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Acks already in the pipe when the kill landed were printed
		// after their puts succeeded, so they count too.
		err = cmd.Wait()
		stall()
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if n < killAt || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: writer ended after %d acks (%v), not by our SIGKILL\n%s", round, n, err, stderr.String())
		}
		t.Logf("round %d: killed after %d acks (%d more were in flight in the pipe)", round, killAt, n-killAt)
	}

	check := exec.Command(writer, args("-check")...)
	check.Stdin = strings.NewReader(strings.Join(acked, "\n") + "\n")
	out, err := check.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok ") {
		lines := strings.SplitN(string(out), "\n", 20)
		t.Fatalf("check of %d acked keys: %v\n%s", len(acked), err, strings.Join(lines, "\n"))
	}
	t.Logf("all %d acked keys survived", len(acked))

	db, err := bolt.Open(filepath.Join(data, "kv.db"), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() { // drain: the checker runs until it is read out
			if first == nil {
				first = err
			}
		}
		return first
	}); err != nil {
		t.Fatalf("bbolt consistency check: %v", err)
	}
}
