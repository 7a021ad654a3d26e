package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/isle-run/isle/internal/repo"
)

// ReactorFlags is how every benchmark reactor is built: the smallest sane
// C reactor. No libc (so no _initialize and nothing to run before the
// first turn), no entry point, a 4 KiB shadow stack and one 64 KiB page of
// linear memory. bench/wasm/spawner.c alone asks for a second page for its
// tables.
var ReactorFlags = []string{
	"--target=wasm32-wasi", "-O2", "-nostdlib",
	"-Wl,--no-entry", "-Wl,-z,stack-size=4096", "-Wl,--initial-memory=65536",
}

// fixtureFlags overrides ReactorFlags for one fixture.
var fixtureFlags = map[string][]string{
	"spawner": {"-Wl,--initial-memory=131072"},
	"hog":     {"-Wl,--initial-memory=16777216", "-mbulk-memory"},
}

// builder compiles the fixtures from their sources in the repository into
// a cache directory keyed by content (repo.CKey: the source, every header
// it includes, the compiler and its libraries, the flags), so that a
// second run reuses them and any changed input rebuilds.
type builder struct {
	root string
	dir  string
	mu   sync.Mutex
}

// wasm builds bench/wasm/NAME.c as a reactor and returns the .wasm path.
func (b *builder) wasm(name string) (string, error) {
	src := filepath.Join(b.root, "bench", "wasm", name+".c")
	flags := append(append([]string{}, ReactorFlags...), fixtureFlags[name]...)
	flags = append(flags, "-I"+filepath.Join(b.root, "sdk", "c"), "-I"+filepath.Join(b.root, "bench", "wasm"))
	return b.cached(name, ".wasm", "clang", flags, src,
		"install Debian's clang, lld, wasi-libc and libclang-rt-14-dev-wasm32")
}

// native builds bench/native/NAME.c for the host and returns the binary.
func (b *builder) native(name string) (string, error) {
	src := filepath.Join(b.root, "bench", "native", name+".c")
	return b.cached(name, "", "cc", []string{"-O2"}, src, "install a C compiler (Debian's build-essential)")
}

// cached runs "tool flags src -o out" unless out is already built from
// the same inputs.
func (b *builder) cached(name, ext, tool string, flags []string, src, install string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := exec.LookPath(tool); err != nil {
		return "", fmt.Errorf("%s is needed to build %s: %s", tool, filepath.Base(src), install)
	}
	key, err := repo.CKey(context.Background(), tool, flags, src)
	if err != nil {
		return "", fmt.Errorf("key fixture %s: %w", name, err)
	}
	out := filepath.Join(b.dir, name+"-"+key+ext)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return "", err
	}
	// A name of its own: builds of the same output may run at once, in
	// this process too.
	f, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".tmp*")
	if err != nil {
		return "", err
	}
	f.Close()
	tmp := f.Name()
	args := append(append([]string{}, flags...), src, "-o", tmp)
	if msg, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, msg)
	}
	return out, os.Rename(tmp, out)
}

// BuildCommand returns the command line that builds a benchmark reactor,
// for the report.
func BuildCommand() string {
	return "clang " + strings.Join(ReactorFlags, " ") + " -I sdk/c -I bench/wasm NAME.c -o NAME.wasm"
}

// FindRoot returns the isle repository root, which holds the benchmark
// reactors' sources.
func FindRoot() (string, error) { return repo.Root("bench/wasm/tiny.c") }
