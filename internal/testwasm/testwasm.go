// Package testwasm builds the test fixtures from their sources in the
// repository, with the real toolchains: wat2wasm from wabt, clang with
// wasi-libc, and the Go toolchain. Nothing checked in is a binary.
//
// Builds are cached in CacheDir, kept across runs, under a key that covers
// every input the toolchain reads, as the toolchain itself reports them:
// go list -deps for Go (see gobuild.Key), clang -M and the libraries it
// links for C (see repo.CKey), the file for WAT; and the toolchain's
// version and the flags.
// A change to any input, a header or an SDK package included, rebuilds.
package testwasm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/isle-run/isle/internal/gobuild"
	"github.com/isle-run/isle/internal/repo"
)

// Root returns the repository root, found from this source file.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Path returns a path relative to the repository root.
func Path(rel string) string { return filepath.Join(Root(), rel) }

// built memoises fixtures within one test process: the sources do not
// change while tests run, and keying a Go build costs a go list.
var built sync.Map // string -> string

func memo(t testing.TB, key string, build func() string) string {
	t.Helper()
	if p, ok := built.Load(key); ok {
		return p.(string)
	}
	p := build()
	built.Store(key, p)
	return p
}

// WAT compiles a .wat file (relative to the repository root) and returns
// the path of the .wasm.
func WAT(t testing.TB, rel string, flags ...string) string {
	t.Helper()
	return memo(t, "wat\x00"+rel+"\x00"+strings.Join(flags, "\x00"), func() string {
		src := Path(rel)
		tool := needTool(t, "wat2wasm", "install Debian's wabt package")
		key := hashKey(append([]string{toolVersion(t, tool, "--version"), sum(t, src)}, flags...)...)
		return fixture(t, name(src), key, func(ctx context.Context, out string) *exec.Cmd {
			return exec.CommandContext(ctx, tool, slices.Concat(flags, []string{src, "-o", out})...)
		})
	})
}

const clangHint = "install Debian's clang, lld, wasi-libc and libclang-rt-14-dev-wasm32"

// C compiles a C source with clang for wasm32-wasi and returns the .wasm.
// The C SDK (sdk/c) is on the include path.
func C(t testing.TB, rel string, flags ...string) string {
	t.Helper()
	return memo(t, "c\x00"+rel+"\x00"+strings.Join(flags, "\x00"), func() string {
		src := Path(rel)
		clang := needTool(t, "clang", clangHint)
		args := slices.Concat([]string{"--target=wasm32-wasi", "-I" + Path("sdk/c")}, flags)
		key, err := repo.CKey(Context(t), clang, args, src)
		if err != nil {
			t.Fatalf("testwasm: %v", err)
		}
		return fixture(t, name(src), key, func(ctx context.Context, out string) *exec.Cmd {
			return exec.CommandContext(ctx, clang, slices.Concat(args, []string{src, "-o", out})...)
		})
	})
}

// Go builds the main package in a directory (relative to the repository
// root) for GOOS=wasip1 and returns the .wasm, through gobuild, the
// builder isle run uses. The flags may be -buildmode=c-shared, for a
// reactor; without it, the package's own //isle:reactor line decides.
//
// Under the race detector, Go modules are also compiled into NodeCache by
// a helper built without it: wazero compiles a 3 MB Go module five times
// slower under the race detector (about 30 s here), and the tests are
// about isle's behaviour, not wazero's compiler. The rewriter and the
// compiler still run under the race detector for every C and WAT fixture.
//
// Under -short it skips the test: building and compiling a Go guest is
// what makes a test slow.
func Go(t testing.TB, rel string, flags ...string) string {
	t.Helper()
	skipGoUnderShort(t)
	mode := gobuild.Auto
	for _, f := range flags {
		if f != "-buildmode=c-shared" {
			t.Fatalf("testwasm: Go takes no flag but -buildmode=c-shared, got %q", f)
		}
		mode = gobuild.Reactor
	}
	path := memo(t, "go\x00"+rel+"\x00"+strings.Join(flags, "\x00"), func() string {
		ctx := Context(t)
		var res *gobuild.Result
		var err error
		withLock(t, "go-"+hashKey(Path(rel)), func() {
			res, err = gobuild.Build(ctx, Path(rel), gobuild.Options{CacheDir: CacheDir(), Mode: mode})
		})
		if err != nil {
			t.Fatalf("testwasm: %v", err)
		}
		used(res.Path)
		return res.Path
	})
	if raceEnabled {
		Precompile(t, path)
	}
	return path
}

// GoDir returns the directory of a Go guest's source (relative to the
// repository root), for a test that has a tool build it, such as isle run.
// Under -short it skips the test, as Go does.
func GoDir(t testing.TB, rel string) string {
	t.Helper()
	skipGoUnderShort(t)
	return Path(rel)
}

func skipGoUnderShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the test needs a Go guest built and compiled")
	}
}

// Precompile loads the modules at paths into NodeCache in a separate
// process built without the race detector, so that a node of the tests
// finds them compiled. It does nothing for a module already there.
func Precompile(t testing.TB, paths ...string) {
	t.Helper()
	precompile(t, NodeCache(t), false, paths)
}

// WazeroCache returns a wazero compilation cache directory that outlives
// the test run, keyed by wazero's content (see KeyedDir).
func WazeroCache(t testing.TB) string {
	t.Helper()
	return KeyedDir(t, "wazero", "github.com/tetratelabs/wazero")
}

// PrecompileWazero compiles the modules at paths, as they are, into
// WazeroCache with a plain wazero compiler runtime, in a process built
// without the race detector, so that a runtime of the tests with that
// cache finds them compiled. It does nothing for a module already there.
func PrecompileWazero(t testing.TB, paths ...string) {
	t.Helper()
	precompile(t, WazeroCache(t), true, paths)
}

func precompile(t testing.TB, cache string, raw bool, paths []string) {
	t.Helper()
	var todo []string
	for _, p := range paths {
		key := cache + "\x00" + p
		if _, done := precompiled.Load(key); done {
			continue
		}
		if _, err := os.Stat(filepath.Join(cache, "precompiled", sum(t, p))); err != nil {
			todo = append(todo, p)
		} else {
			precompiled.Store(key, true)
		}
	}
	if len(todo) == 0 {
		return
	}
	args := []string{"-cache", cache}
	if raw {
		args = append(args, "-raw")
	}
	RunOutsideRace(t, "./internal/testwasm/precompile", append(args, todo...)...)
	for _, p := range todo {
		precompiled.Store(cache+"\x00"+p, true)
	}
}

// RunOutsideRace runs the main package pkg (a path relative to the
// repository root) with args, built without the race detector, and fails
// the test with its output if it fails. Under the race detector, the
// tests use it for work that the detector makes several times slower and
// that is not what they test, such as wazero compiling a large module.
// Such helpers run one at a time on the machine.
func RunOutsideRace(t testing.TB, pkg string, args ...string) {
	t.Helper()
	withLock(t, "outside-race", func() {
		ctx := Context(t)
		// wazero files compiled code under its own version, which a test
		// binary cannot see (it carries no dependency build information)
		// and calls "dev"; the helper must say the same for the tests to
		// find its work. The caches' keys cover wazero's content.
		goArgs := append([]string{"run", "-ldflags=-X=github.com/tetratelabs/wazero/internal/version.version=dev", pkg}, args...)
		cmd := exec.CommandContext(ctx, "go", goArgs...)
		cmd.Dir = Root()
		cmd.Env = append(os.Environ(), "GOFLAGS=") // not -race, whatever the caller's
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("testwasm: go %s: %v\n%s", strings.Join(goArgs, " "), err, out)
		}
	})
}

// GoOutsideRace runs the go command with args (such as a go test of one
// test) from the repository root, without the race detector whatever the
// caller's GOFLAGS, and returns its output, failing the test with it if
// the command fails.
func GoOutsideRace(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(Context(t), "go", args...)
	cmd.Dir = Root()
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// RaceEnabled reports whether the tests run under the race detector.
func RaceEnabled() bool { return raceEnabled }

// precompiled holds the caches and paths precompile has seen to, in this
// process.
var precompiled sync.Map

// fixture returns CacheDir()/fixtures/NAME-KEY.wasm, building it with the
// command that cmd makes when it is not there yet.
func fixture(t testing.TB, name, key string, cmd func(ctx context.Context, out string) *exec.Cmd) string {
	t.Helper()
	dir := filepath.Join(CacheDir(), "fixtures")
	out := filepath.Join(dir, name+"-"+key+".wasm")
	if _, err := os.Stat(out); err == nil {
		used(out)
		return out
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("testwasm: %v", err)
	}
	withLock(t, "fixture-"+key, func() {
		if _, err := os.Stat(out); err == nil {
			return // another process built it while this one waited
		}
		f, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".tmp*")
		if err != nil {
			t.Fatalf("testwasm: %v", err)
		}
		f.Close()
		tmp := f.Name()
		c := cmd(Context(t), tmp)
		if b, err := c.CombinedOutput(); err != nil {
			_ = os.Remove(tmp)
			t.Fatalf("testwasm: %s: %v\n%s", strings.Join(c.Args, " "), err, b)
		}
		if err := os.Rename(tmp, out); err != nil {
			t.Fatalf("testwasm: %v", err)
		}
	})
	return out
}

// needTool returns the path of a toolchain command, or fails the test
// saying what to install.
func needTool(t testing.TB, tool, install string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("testwasm: %s is needed to build fixtures: %s (.ci/run does this)", tool, install)
	}
	return p
}

var versions sync.Map // tool path + args -> output

// toolVersion returns what tool prints for args, once per process.
func toolVersion(t testing.TB, tool string, args ...string) string {
	t.Helper()
	key := tool + "\x00" + strings.Join(args, "\x00")
	if v, ok := versions.Load(key); ok {
		return v.(string)
	}
	out, err := exec.Command(tool, args...).Output()
	if err != nil {
		t.Fatalf("testwasm: %s %s: %v", tool, strings.Join(args, " "), err)
	}
	versions.Store(key, string(out))
	return string(out)
}

// sum is the hex SHA-256 of a file's content.
func sum(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("testwasm: %v", err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// name is a fixture's readable name: its source's base name.
func name(src string) string {
	return strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
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
