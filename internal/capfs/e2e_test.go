package capfs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/isle-run/isle/internal/testwasm"
)

// buildEscape compiles testdata/escape.c with wasi-libc.
func buildEscape(t *testing.T) []byte {
	t.Helper()
	return testwasm.Read(t, testwasm.C(t, "internal/capfs/testdata/escape.c", "-O2", "-Wall"))
}

// TestEndToEnd runs a real WASI program under wazero with the capability
// mounted, at the root and below it (wasi-libc resolves absolute paths
// against the preopens, so "/etc/passwd" means something different in
// each), and checks every escape attempt failed and nothing outside the
// tree was read, created or changed.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	wasm := buildEscape(t)
	for _, guest := range []string{"/", "/data"} {
		t.Run(strings.TrimPrefix(guest, "/")+"root", func(t *testing.T) {
			s := newSandbox(t, ReadWrite)
			s.hostFile(t, "file", "inside file\n")
			s.hostLink(t, "/etc", "hostetc")
			s.hostLink(t, "..", "hostup")
			s.hostLink(t, "../secret", "hostsec")
			s.fs = s.open(t, ReadWrite)
			out := runEscape(t, wasm, s.fs, guest)
			checkEscapeOutput(t, out)
			s.untouched(t)
			if b, err := os.ReadFile(filepath.Join(s.tree, "sub/moved")); err != nil || string(b) != "written by guest\n" {
				t.Errorf("guest's own file: %q, %v", b, err)
			}
			for _, name := range []string{"lnk", "up", "sec", "stolen"} {
				if _, err := os.Lstat(filepath.Join(s.tree, name)); err == nil {
					t.Errorf("%s exists in the tree", name)
				}
			}
		})
	}
}

func runEscape(t *testing.T, wasm []byte, fsys *FS, guest string) string {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().
		WithArgs("escape", guest).
		WithStdout(&stdout).
		WithStderr(&stderr).
		WithFSConfig(wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(fsys, guest))
	_, err := r.InstantiateWithConfig(ctx, wasm, cfg)
	var exit *sys.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 0) {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	t.Logf("guest mounted at %s:\n%s", guest, &stdout)
	return stdout.String()
}

// checkEscapeOutput wants every attempt to have failed, every control to
// have worked, and all of them to have run (so a program that died early
// does not pass).
func checkEscapeOutput(t *testing.T, out string) {
	t.Helper()
	var attempts, controls int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		kind, rest, _ := strings.Cut(line, " ")
		what, result, found := strings.Cut(rest, ": ")
		if !found {
			t.Errorf("unparsed line %q", line)
			continue
		}
		switch kind {
		case "attempt":
			attempts++
			if strings.HasPrefix(result, "OK") {
				t.Errorf("escape attempt succeeded: %s: %s", what, result)
			}
		case "control":
			controls++
			if !strings.HasPrefix(result, "OK") {
				t.Errorf("normal use failed: %s: %s", what, result)
			}
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	src, err := os.ReadFile(filepath.Join("testdata", "escape.c"))
	mustDo(t, err)
	if want := strings.Count(string(src), `("attempt",`); attempts != want {
		t.Errorf("%d attempts ran, escape.c has %d", attempts, want)
	}
	if want := strings.Count(string(src), `("control",`); controls != want {
		t.Errorf("%d controls ran, escape.c has %d", controls, want)
	}
	for _, leak := range []string{"root:", "top secret", "outside"} {
		if strings.Contains(out, leak) {
			t.Errorf("output contains %q", leak)
		}
	}
}
