// Package gobuild turns a directory of Go source into a wasip1 module with
// the local Go toolchain, caching the result by the content of every file
// that goes into it.
//
// Go's own build cache already skips recompiling packages, but linking a
// 2.6 MB wasm binary still costs most of a second; the content-addressed
// cache here makes a second `isle run ./dir` start at once.
package gobuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Mode selects what kind of module to build.
type Mode uint8

const (
	// Auto builds a reactor if the main package says so with a line
	// "//isle:reactor" in one of its files, and a command otherwise.
	Auto Mode = iota
	// Command builds a WASI command with a _start entry point.
	Command
	// Reactor builds with -buildmode=c-shared: the module exports
	// _initialize and its //go:wasmexport functions instead of _start.
	Reactor
)

// reactorDirective marks a main package that builds as a reactor.
const reactorDirective = "//isle:reactor"

// Options configures Build.
type Options struct {
	// CacheDir holds built modules. Empty means build into a temporary
	// directory every time.
	CacheDir string
	// Progress, when set, receives a line while a build runs and how long
	// it took. Pass the terminal's stderr, or nil to stay quiet.
	Progress io.Writer
	// Mode is Auto, Command or Reactor.
	Mode Mode
}

// Result is a built module.
type Result struct {
	Path    string // the .wasm file
	Cached  bool   // true if no build was needed
	Reactor bool   // built with -buildmode=c-shared
}

// Build builds the main package in dir for GOOS=wasip1 GOARCH=wasm.
func Build(ctx context.Context, dir string, opt Options) (*Result, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("building %s needs the Go toolchain, and go is not on PATH: install Go from https://go.dev/dl", dir)
	}
	key, directive, err := contentKey(ctx, goBin, dir, opt.Mode)
	if err != nil {
		return nil, err
	}
	if opt.Mode == Auto {
		opt.Mode = Command
		if directive {
			opt.Mode = Reactor
		}
	}
	reactor := opt.Mode == Reactor
	var out string
	if opt.CacheDir != "" {
		out = filepath.Join(opt.CacheDir, "gobuild", key+".wasm")
		if _, err := os.Stat(out); err == nil {
			return &Result{Path: out, Cached: true, Reactor: reactor}, nil
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return nil, fmt.Errorf("create build cache: %w", err)
		}
	} else {
		tmp, err := os.MkdirTemp("", "isle-gobuild-")
		if err != nil {
			return nil, err
		}
		out = filepath.Join(tmp, key+".wasm")
	}
	if err := compile(ctx, goBin, dir, out, opt); err != nil {
		return nil, err
	}
	return &Result{Path: out, Reactor: reactor}, nil
}

// compile runs go build into a temporary file and renames it into place,
// so that a cache entry is either whole or absent.
func compile(ctx context.Context, goBin, dir, out string, opt Options) error {
	// A name of its own: builds of the same output may run at once, in
	// this process too.
	f, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".tmp*")
	if err != nil {
		return err
	}
	f.Close()
	tmp := f.Name()
	args := []string{"build", "-o", tmp}
	if opt.Mode == Reactor {
		args = append(args, "-buildmode=c-shared")
	}
	cmd := exec.CommandContext(ctx, goBin, append(args, ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), wasip1Env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stop := showProgress(opt.Progress, dir)
	err = cmd.Run()
	stop(err == nil)
	if err != nil {
		_ = os.Remove(tmp)
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("go build of %s for wasip1 failed:\n%s", dir, msg)
	}
	return os.Rename(tmp, out)
}

// showProgress prints a line that counts the seconds while the build runs.
func showProgress(w io.Writer, dir string) func(ok bool) {
	if w == nil {
		return func(bool) {}
	}
	start := time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			fmt.Fprintf(w, "\risle: building %s for wasip1 … %.1fs", dir, time.Since(start).Seconds())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func(ok bool) {
		close(done)
		<-finished
		status := "built"
		if !ok {
			status = "failed"
		}
		fmt.Fprintf(w, "\risle: %s %s for wasip1 in %.1fs\033[K\n", status, dir, time.Since(start).Seconds())
	}
}

// listedPackage is the part of `go list -json` the cache key needs.
type listedPackage struct {
	ImportPath string
	Name       string
	Dir        string
	Standard   bool
	GoFiles    []string
	CgoFiles   []string
	SFiles     []string
	EmbedFiles []string
	Module     *struct{ GoMod string }
	Error      *struct{ Err string }
}

// contentKey hashes the Go version, the build mode and the content of every
// non-standard-library file that the build reads.
// It also reports whether the main package carries the reactor directive.
func contentKey(ctx context.Context, goBin, dir string, mode Mode) (key string, reactor bool, err error) {
	h := sha256.New()
	fmt.Fprintf(h, "isle-gobuild-1 mode=%d\n", mode)
	main, reactor, err := hashDeps(ctx, h, goBin, dir, wasip1Env, ".")
	if err != nil {
		return "", false, err
	}
	if main.Name != "main" {
		return "", false, fmt.Errorf("%s is not a main package: isle runs programs, so the directory needs package main", dir)
	}
	fmt.Fprintf(h, "reactor=%v\n", reactor)
	return hex.EncodeToString(h.Sum(nil)[:16]), reactor, nil
}

// wasip1Env is what a guest build adds to the environment.
var wasip1Env = []string{"GOOS=wasip1", "GOARCH=wasm"}

// ErrNoPackage is returned by Key when the patterns match no package.
var ErrNoPackage = errors.New("no Go package")

// Key returns a hex key for the content of everything a build of pkgs
// (import paths or patterns, resolved in dir, with env added to the
// environment) reads: the Go version and GOFLAGS, env itself, every file of
// every non-standard-library package in their import graph, and the go.mod
// of each module they come from. Two calls return the same key exactly when
// those inputs are the same, so it names a cache of anything derived from
// that code (a test's compiled modules, say) without going stale.
func Key(ctx context.Context, dir string, env []string, pkgs ...string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("hashing %s needs the Go toolchain, and go is not on PATH: install Go from https://go.dev/dl", strings.Join(pkgs, " "))
	}
	h := sha256.New()
	fmt.Fprintf(h, "isle-gobuild-key-1 env=%q\n", env)
	if _, _, err := hashDeps(ctx, h, goBin, dir, env, pkgs...); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// hashDeps writes to h the Go version and GOFLAGS and the content of every
// non-standard-library file in the import graph of pkgs. It returns the
// last package go list printed (the one named, for a single package) and
// whether that package carries the reactor directive.
func hashDeps(ctx context.Context, h io.Writer, goBin, dir string, env []string, pkgs ...string) (last *listedPackage, reactor bool, err error) {
	args := append([]string{"list", "-deps", "-e",
		"-json=ImportPath,Name,Dir,Standard,GoFiles,CgoFiles,SFiles,EmbedFiles,Module,Error"}, pkgs...)
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, false, fmt.Errorf("%s is not a Go package that can be built: %s", dir, strings.TrimSpace(stderr.String()))
	}
	goEnv := exec.CommandContext(ctx, goBin, "env", "GOVERSION", "GOFLAGS")
	goEnv.Env = cmd.Env
	ver, _ := goEnv.Output()
	fmt.Fprintf(h, "go %s\n", ver)
	dec := json.NewDecoder(&stdout)
	goMods := map[string]bool{}
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, false, fmt.Errorf("read go list output: %w", err)
		}
		if p.Error != nil {
			return nil, false, fmt.Errorf("%s: %s", dir, p.Error.Err)
		}
		last = &p // a package named on the command line comes after its deps
		if p.Standard {
			continue
		}
		directive, err := hashFiles(h, p)
		if err != nil {
			return nil, false, err
		}
		reactor = directive // the last package's answer stands
		// go.mod decides language semantics (the go directive), so it is
		// part of the input even though no package lists it.
		if p.Module != nil && p.Module.GoMod != "" && !goMods[p.Module.GoMod] {
			goMods[p.Module.GoMod] = true
			b, _ := os.ReadFile(p.Module.GoMod)
			fmt.Fprintf(h, "gomod %s %x\n", p.Module.GoMod, sha256.Sum256(b))
		}
	}
	if last == nil {
		return nil, false, fmt.Errorf("%s: %w matches %s", dir, ErrNoPackage, strings.Join(pkgs, " "))
	}
	return last, reactor, nil
}

// hashFiles hashes a package's files and reports whether a Go file of it
// carries the reactor directive.
func hashFiles(h io.Writer, p listedPackage) (reactor bool, err error) {
	fmt.Fprintf(h, "pkg %s\n", p.ImportPath)
	for i, list := range [][]string{p.GoFiles, p.CgoFiles, p.SFiles, p.EmbedFiles} {
		for _, f := range list {
			b, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				return false, fmt.Errorf("hash %s: %w", f, err)
			}
			sum := sha256.Sum256(b)
			fmt.Fprintf(h, "%s %x\n", f, sum)
			if i == 0 && hasDirective(b) {
				reactor = true
			}
		}
	}
	return reactor, nil
}

func hasDirective(src []byte) bool {
	for _, line := range bytes.Split(src, []byte("\n")) {
		if string(bytes.TrimSpace(line)) == reactorDirective {
			return true
		}
	}
	return false
}
