package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// lineOf returns the line number of the first line containing marker.
func lineOf(t *testing.T, rel, marker string) int {
	t.Helper()
	f, err := os.Open(testwasm.Path(rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), marker) {
			return n
		}
	}
	t.Fatalf("%s has no line containing %q", rel, marker)
	return 0
}

// A trap abandons the process: one line naming the module and the reason,
// then the wasm stack with function names and, from DWARF, file:line.
func TestTrapsAbandonWithPreciseReason(t *testing.T) {
	t.Parallel()
	traps := testwasm.C(t, "testdata/c/traps.c", "-O0", "-g")
	cases := []struct {
		mode, reason, fn, marker string
	}{
		{"unreachable", "unreachable", "crash_here", "the unreachable line"},
		{"divzero", "integer divide by zero", "divide", "the divide-by-zero line"},
		{"oob", "out of bounds memory access", "load_far", "return *p"},
		{"abort", "unreachable", "abort", ""},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			r := runIsle(t, "run", traps, "--", c.mode)
			r.want(t, statusAbandoned)
			lines := strings.Split(r.stderr, "\n")
			first := fmt.Sprintf("isle: %s abandoned: %s in %s", baseName(traps), c.reason, c.fn)
			if !strings.HasPrefix(lines[0], first) {
				t.Fatalf("first line %q, want prefix %q", lines[0], first)
			}
			if lines[1] != "wasm stack trace:" || !strings.HasPrefix(strings.TrimSpace(lines[2]), c.fn+"(") {
				t.Fatalf("trace does not start at %s:\n%s", c.fn, r.stderr)
			}
			if !strings.Contains(r.stderr, "main(") {
				t.Errorf("trace does not reach main:\n%s", r.stderr)
			}
			if c.marker != "" {
				loc := fmt.Sprintf("traps.c:%d", lineOf(t, "testdata/c/traps.c", c.marker))
				if !strings.Contains(lines[0], loc) || !strings.Contains(lines[3], loc) {
					t.Errorf("want %s on the reason line and under the first frame:\n%s", loc, r.stderr)
				}
			}
		})
	}
	for _, c := range []struct{ wat, reason, fn string }{
		{"stack.wat", "stack exhausted", ""}, // wazero gives no trace for this one
		{"convert.wat", "invalid conversion to integer", "to_int"},
	} {
		t.Run(c.wat, func(t *testing.T) {
			mod := testwasm.WAT(t, "testdata/wat/"+c.wat, "--debug-names")
			r := runIsle(t, "run", mod)
			r.want(t, statusAbandoned)
			want := "abandoned: " + c.reason
			if c.fn != "" {
				want += " in " + c.fn
			}
			if !strings.Contains(r.stderr, want) {
				t.Fatalf("stderr does not contain %q:\n%s", want, r.stderr)
			}
		})
	}
}

func TestGoRuntimeAbortsAbandon(t *testing.T) {
	t.Parallel()
	r := runIsle(t, "run", "--memory", "64MiB", testwasm.GoDir(t, "testdata/go/oom"))
	r.want(t, statusAbandoned)
	if !strings.Contains(r.stderr, "isle: oom abandoned: runtime abort: go: fatal error: out of memory") {
		t.Errorf("stderr:\n%s", lastLines(r.stderr, 5))
	}
	r = runIsle(t, "run", testwasm.GoDir(t, "testdata/go/panic"))
	r.want(t, statusAbandoned)
	if !strings.Contains(r.stderr, "isle: panic abandoned: runtime abort: go: panic: assignment to entry in nil map") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

func baseName(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
