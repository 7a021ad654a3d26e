package fuelbench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/isle-run/isle/internal/gobuild"
	"github.com/isle-run/isle/internal/repo"
)

// kernel is one compute kernel under testdata/kernels.
type kernel struct {
	name      string
	lang      string // "Go": a package directory; "C": a .c file
	loopHeavy bool
	full      string // its size arguments in a full run: about 0.2–1 s here
	quick     string // and in quick mode
	what      string // what it computes, with %s for the size
	quickWhat string // what it computes in quick mode, if what does not fit
}

// kernels are the compute kernels Overhead runs, in report order. The Go
// ones run real standard-library code; the C ones are loop-heavy.
var kernels = []kernel{
	{name: "sha256", lang: "Go", full: "16", quick: "1",
		what: "Go crypto/sha256 over %s MiB"},
	{name: "flate", lang: "Go", full: "1024", quick: "64",
		what: "Go compress/flate, compress and decompress %s KiB of text"},
	{name: "json", lang: "Go", full: "2", quick: "1 4",
		what:      "Go encoding/json, encode and decode a 5,461-node document %s times",
		quickWhat: "Go encoding/json, encode and decode a 341-node document once"},
	{name: "sort", lang: "Go", full: "1000000", quick: "10000",
		what: "Go slices.Sort of %s ints"},
	{name: "fannkuch", lang: "C", loopHeavy: true, full: "10", quick: "7",
		what: "C fannkuch-redux, n=%s"},
	{name: "nbody", lang: "C", loopHeavy: true, full: "3000000", quick: "10000",
		what: "C n-body, %s steps"},
	{name: "collatz", lang: "C", loopHeavy: true, full: "1500000", quick: "20000",
		what: "C longest Collatz chain below %s"},
}

// KernelNames lists the kernels Overhead runs, for Options.Kernels.
func KernelNames() []string {
	names := make([]string, len(kernels))
	for i, k := range kernels {
		names[i] = k.name
	}
	return names
}

func (k kernel) arg(quick bool) string {
	if quick {
		return k.quick
	}
	return k.full
}

// args is the kernel's command line at a size: its name and arguments.
func (k kernel) args(arg string) []string {
	return append([]string{k.name}, strings.Fields(arg)...)
}

// describe says what the kernel computes at a size.
func (k kernel) describe(quick bool) string {
	if quick && k.quickWhat != "" {
		return k.quickWhat
	}
	return fmt.Sprintf(k.what, argText(k.arg(quick)))
}

// argText formats a size argument for reading: 1000000 as 1,000,000.
func argText(arg string) string {
	if n, err := strconv.ParseInt(arg, 10, 64); err == nil {
		return commas(n)
	}
	return arg
}

// cFlags is how the C kernels are built.
var cFlags = []string{"--target=wasm32-wasi", "-O2"}

// build returns the kernel's module, built from its source under
// root/testdata/kernels into the cache if not already there.
func (k kernel) build(ctx context.Context, root string, o Options) ([]byte, error) {
	path, err := k.buildFile(ctx, root, o)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}

// buildFile is build, returning the path of the module in the cache.
func (k kernel) buildFile(ctx context.Context, root string, o Options) (string, error) {
	src := filepath.Join(root, "testdata", "kernels", k.name)
	if k.lang == "Go" {
		res, err := gobuild.Build(ctx, src, gobuild.Options{CacheDir: o.CacheDir, Mode: gobuild.Command})
		if err != nil {
			return "", err
		}
		return res.Path, nil
	}
	return buildC(ctx, src+".c", o.CacheDir)
}

// buildC runs clang on one C file, or returns the cached output of an
// earlier run on the same inputs (see repo.CKey).
func buildC(ctx context.Context, src, cacheDir string) (string, error) {
	if _, err := exec.LookPath("clang"); err != nil {
		return "", fmt.Errorf("clang is needed to build %s: install Debian's clang, lld, wasi-libc and libclang-rt-14-dev-wasm32", filepath.Base(src))
	}
	key, err := repo.CKey(ctx, "clang", cFlags, src)
	if err != nil {
		return "", fmt.Errorf("key kernel %s: %w", filepath.Base(src), err)
	}
	name := strings.TrimSuffix(filepath.Base(src), ".c")
	out := filepath.Join(cacheDir, "kernels", name+"-"+key+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
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
	args := append(append([]string{}, cFlags...), src, "-o", tmp)
	if msg, err := exec.CommandContext(ctx, "clang", args...).CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("clang %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return out, os.Rename(tmp, out)
}
