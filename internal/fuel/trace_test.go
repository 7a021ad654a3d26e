package fuel

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// trapTrace runs fn of a module in a fresh runtime (with WASI) and returns
// the error it traps with.
func trapTrace(t *testing.T, b []byte, fn string, args ...uint64) string {
	t.Helper()
	ctx := context.Background()
	r := newRuntime(t, ctx, &meter{slice: 3})
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	cfg := wazero.NewModuleConfig().WithName("m").WithStartFunctions()
	mod, err := r.InstantiateWithConfig(ctx, b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = mod.ExportedFunction(fn).Call(ctx, args...)
	if err == nil {
		t.Fatalf("%s did not trap", fn)
	}
	return err.Error()
}

func TestTraceNames(t *testing.T) {
	t.Parallel()
	orig := wat(t, "trace")
	before := trapTrace(t, orig, "main", 5)
	after := trapTrace(t, instrument(t, orig), "main", 5)
	if before != after {
		t.Fatalf("trace changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	for _, fn := range []string{"trace.inner(i32)", "trace.middle(i32)", "trace.outer(i32)", "trace.main(i32)"} {
		if !strings.Contains(after, fn) {
			t.Errorf("trace lacks %s:\n%s", fn, after)
		}
	}
}

// buildC compiles testdata/name.c with clang for wasm32-wasi.
func buildC(t *testing.T, name string, flags ...string) []byte {
	t.Helper()
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Fatalf("clang with wasi-libc and lld is needed: %v", err)
	}
	out := filepath.Join(t.TempDir(), name+".wasm")
	args := append([]string{"--target=wasm32-wasi"}, flags...)
	args = append(args, "-o", out, filepath.Join("testdata", name+".c"))
	if b, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		t.Fatalf("clang %v: %v\n%s", args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// markerLine finds the line of testdata/name that holds a marker comment.
func markerLine(t *testing.T, name, marker string) int {
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		if strings.Contains(s.Text(), marker) {
			return n
		}
	}
	t.Fatalf("no %q in %s", marker, name)
	return 0
}

var offsetPrefix = regexp.MustCompile(`0x[0-9a-f]+: `)

// sourceLines returns a trace's lines without their code offsets, which
// the rewrite moves.
func sourceLines(trace string) string {
	return offsetPrefix.ReplaceAllString(trace, "")
}

func TestTraceDWARF(t *testing.T) {
	t.Parallel()
	for _, opt := range []string{"-O0", "-O2"} {
		t.Run(opt, func(t *testing.T) {
			orig := buildC(t, "trap", opt, "-g")
			before := trapTrace(t, orig, "_start")
			after := trapTrace(t, instrument(t, orig), "_start")
			if sourceLines(before) != sourceLines(after) {
				t.Fatalf("trace changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			want := fmt.Sprintf("trap.c:%d", markerLine(t, "trap.c", "TRAP LINE"))
			if !strings.Contains(after, want) {
				t.Fatalf("trace lacks %s:\n%s", want, after)
			}
			if opt == "-O0" {
				for _, m := range []string{"CALL LINE", "MAIN LINE"} {
					if w := fmt.Sprintf("trap.c:%d", markerLine(t, "trap.c", m)); !strings.Contains(after, w) {
						t.Errorf("trace lacks %s:\n%s", w, after)
					}
				}
			}
			t.Logf("trace after the rewrite:\n%s", after)
		})
	}
}
