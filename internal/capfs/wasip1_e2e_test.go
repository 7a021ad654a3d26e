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
	"github.com/tetratelabs/wazero/sys"

	"github.com/isle-run/isle/internal/wasip1"
)

// soloHost is the process a WASI state serves when no kernel runs it: it
// never blocks on anything and is never killed.
type soloHost struct{}

func (soloHost) Blocking(f func())            { f() }
func (soloHost) KillContext() context.Context { return context.Background() }
func (soloHost) CheckKilled()                 {}
func (soloHost) ChargeWork(int64)             {}
func (soloHost) ChargeBytes(int)              {}
func (soloHost) CheckFuel()                   {}
func (soloHost) ChargeHost(int64) error       { return nil }
func (soloHost) UnchargeHost(int64)           {}
func (soloHost) HasMemory() bool              { return true }

// TestEndToEndWasip1 runs the escape program through isle's own WASI layer
// (internal/wasip1), which resolves paths itself before they reach the
// capability: every escape must still fail, and nothing outside change.
func TestEndToEndWasip1(t *testing.T) {
	wasm := buildEscape(t)
	for _, guest := range []string{"/", "/data"} {
		t.Run(strings.TrimPrefix(guest, "/")+"root", func(t *testing.T) {
			s := newSandbox(t, ReadWrite)
			s.hostFile(t, "file", "inside file\n")
			s.hostLink(t, "/etc", "hostetc")
			s.hostLink(t, "..", "hostup")
			s.hostLink(t, "../secret", "hostsec")
			s.fs = s.open(t, ReadWrite)
			out := runEscapeWasip1(t, wasm, s.fs, guest)
			checkEscapeOutput(t, out)
			s.untouched(t)
			if b, err := os.ReadFile(filepath.Join(s.tree, "sub/moved")); err != nil || string(b) != "written by guest\n" {
				t.Errorf("guest's own file: %q, %v", b, err)
			}
		})
	}
}

func runEscapeWasip1(t *testing.T, wasm []byte, fsys *FS, guest string) string {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	var stdout, stderr bytes.Buffer
	st := wasip1.New(soloHost{}, wasip1.Config{
		Args:     []string{"escape", guest},
		Stdout:   &stdout,
		Stderr:   &stderr,
		Preopens: []wasip1.Preopen{{FS: fsys, Path: guest}},
	})
	if _, err := wasip1.NewModule(r, func(context.Context) *wasip1.State { return st }).Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig())
	st.Close() // flushes stdout
	var exit *sys.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 0) {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	t.Logf("guest mounted at %s:\n%s", guest, &stdout)
	return stdout.String()
}
