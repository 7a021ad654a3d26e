// Package testwasm builds the test fixtures from their sources in the
// repository, with the real toolchains: wat2wasm from wabt, clang with
// wasi-libc, and the Go toolchain. Nothing checked in is a binary.
//
// Builds are cached under the system temp directory by content hash, so a
// second test run reuses them; a change to a source file rebuilds it.
package testwasm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var mu sync.Mutex // serialises builds: toolchains are CPU-bound anyway

// Root returns the repository root, found from this source file.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Path returns a path relative to the repository root.
func Path(rel string) string { return filepath.Join(Root(), rel) }

// WAT compiles a .wat file (relative to the repository root) and returns
// the path of the .wasm.
func WAT(t testing.TB, rel string, flags ...string) string {
	t.Helper()
	return build(t, []string{Path(rel)}, append([]string{"wat2wasm"}, flags...), func(out string) []string {
		return concat([]string{"wat2wasm"}, flags, []string{Path(rel), "-o", out})
	}, "install Debian's wabt package")
}

// C compiles C sources with clang for wasm32-wasi and returns the .wasm.
// The C SDK (sdk/c) is on the include path.
func C(t testing.TB, rel string, flags ...string) string {
	t.Helper()
	args := append([]string{"--target=wasm32-wasi", "-I" + Path("sdk/c")}, flags...)
	return build(t, []string{Path(rel), Path("sdk/c/isle.h")}, append([]string{"clang"}, args...), func(out string) []string {
		return concat([]string{"clang"}, args, []string{Path(rel), "-o", out})
	}, "install Debian's clang, lld, wasi-libc and libclang-rt-14-dev-wasm32")
}

// Go builds the main package in a directory (relative to the repository
// root) for GOOS=wasip1 and returns the .wasm. Extra flags go to go build,
// for example -buildmode=c-shared for a reactor.
func Go(t testing.TB, rel string, flags ...string) string {
	t.Helper()
	dir := Path(rel)
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("testwasm: no Go files in %s", dir)
	}
	// The SDK is part of the module, so its sources are inputs too, and so
	// is the api package it imports.
	sdk, _ := filepath.Glob(Path("sdk/go/*/*.go"))
	api, _ := filepath.Glob(Path("api/*.go"))
	inputs := append(append(append(files, sdk...), api...), Path("go.mod"))
	return build(t, inputs, append([]string{"go", runtime.Version()}, flags...), func(out string) []string {
		return concat([]string{"go", "build", "-o", out}, flags, []string{"."})
	}, "install Go", func(c *exec.Cmd) {
		c.Dir = dir
		c.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	})
}

// build runs a toolchain command whose output depends on inputs and key.
func build(t testing.TB, inputs, key []string, cmdline func(out string) []string, install string, adjust ...func(*exec.Cmd)) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	h := sha256.New()
	fmt.Fprintln(h, strings.Join(key, "\x00"))
	for _, in := range inputs {
		b, err := os.ReadFile(in)
		if err != nil {
			t.Fatalf("testwasm: %v", err)
		}
		fmt.Fprintf(h, "%s %x\n", filepath.Base(in), sha256.Sum256(b))
	}
	dir := filepath.Join(os.TempDir(), "isle-testwasm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(filepath.Base(inputs[0]), filepath.Ext(inputs[0]))
	out := filepath.Join(dir, base+"-"+hex.EncodeToString(h.Sum(nil)[:8])+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	args := cmdline(out + ".tmp")
	if _, err := exec.LookPath(args[0]); err != nil {
		t.Fatalf("testwasm: %s is needed to build fixtures: %s (.ci/run does this)", args[0], install)
	}
	c := exec.Command(args[0], args[1:]...)
	for _, a := range adjust {
		a(c)
	}
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("testwasm: %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Read returns a built fixture's bytes.
func Read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// SpecTests finds the converted WebAssembly spec tests: $ISLE_SPECTEST, or
// shared/spectest/v2 in the working directory or one of its parents (CI
// puts the steering repository's shared/ beside the clone).
func SpecTests(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("ISLE_SPECTEST"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var looked []string
	for d := wd; ; d = filepath.Dir(d) {
		c := filepath.Join(d, "shared", "spectest", "v2")
		looked = append(looked, c)
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	t.Fatalf("spec tests not found; set ISLE_SPECTEST or put them in one of %q", looked)
	return ""
}
