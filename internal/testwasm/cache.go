package testwasm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isle-run/isle/internal/gobuild"
)

// CacheEnv names the environment variable that moves the test cache.
const CacheEnv = "ISLE_TEST_CACHE"

// CacheDir returns the directory that keeps built fixtures and compiled
// modules across test runs: $ISLE_TEST_CACHE, or isle-test under the
// user's cache directory, or under the temp directory when there is none.
// Everything in it is keyed by the content it was made from, so it may be
// deleted at any time, and a run that starts with it empty (as CI may) is
// only slower.
func CacheDir() string {
	if d := os.Getenv(CacheEnv); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "isle-test")
	}
	return filepath.Join(os.TempDir(), "isle-test")
}

// kernelPkg is the package whose code decides what a node's cache holds:
// the fuel rewrite and wazero's compilation both run inside it.
const kernelPkg = "github.com/isle-run/isle/internal/kernel"

var keyed sync.Map // "kind pkg" -> *keyedResult

type keyedResult struct {
	once sync.Once
	dir  string
	err  error
}

// KeyedDir returns a directory under CacheDir for things made by the code
// of pkg (an import path), kept across runs and keyed by the content of
// pkg and everything it imports (see gobuild.Key) and the Go version.
// Compiled code does not say which version of the code made it: a change
// to any of that code starts a fresh directory instead of serving stale
// code. Directories of old keys unused for a week are removed.
func KeyedDir(t testing.TB, kind, pkg string) string {
	t.Helper()
	v, _ := keyed.LoadOrStore(kind+" "+pkg, &keyedResult{})
	r := v.(*keyedResult)
	r.once.Do(func() {
		key, err := gobuild.Key(Context(t), Root(), nil, pkg)
		if err != nil {
			r.err = fmt.Errorf("key the %s cache: %w", kind, err)
			return
		}
		r.dir, r.err = keyedDir(kind, key)
	})
	if r.err != nil {
		t.Fatalf("testwasm: %v", r.err)
	}
	return r.dir
}

// NodeCache returns a directory for isle.Config.CacheDir that outlives the
// test run: a KeyedDir of internal/kernel, whose code (the fuel rewriter,
// wazero) decides what the cache holds. Tests of one package share it, so
// each module compiles once per machine, not once per test.
//
// The isle CLI, given XDG_CACHE_HOME=filepath.Dir(NodeCache(t)), uses the
// same directory.
func NodeCache(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(KeyedDir(t, "node", kernelPkg), "isle") // where the CLI puts it under XDG_CACHE_HOME
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("testwasm: %v", err)
	}
	// The CLI builds Go modules into the same content-keyed store as Go
	// does here; those do not depend on the kernel.
	gb := filepath.Join(dir, "gobuild")
	if _, err := os.Lstat(gb); os.IsNotExist(err) && os.MkdirAll(filepath.Join(CacheDir(), "gobuild"), 0o755) == nil {
		_ = os.Symlink(filepath.Join(CacheDir(), "gobuild"), gb)
	}
	return dir
}

// keyedDir returns CacheDir()/kind-key, creating it and marking it used
// now. Directories of the same kind unused for a week are removed, so that
// keys of old code do not pile up.
func keyedDir(kind, key string) (string, error) {
	dir := filepath.Join(CacheDir(), kind+"-"+key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create the test cache: %w", err)
	}
	stamp := filepath.Join(dir, ".used")
	now := time.Now()
	if err := os.WriteFile(stamp, nil, 0o644); err == nil {
		_ = os.Chtimes(stamp, now, now)
	}
	old, _ := filepath.Glob(filepath.Join(CacheDir(), kind+"-*"))
	for _, o := range old {
		if o == dir {
			continue
		}
		if st, err := os.Stat(filepath.Join(o, ".used")); err == nil && now.Sub(st.ModTime()) > 7*24*time.Hour {
			_ = os.RemoveAll(o)
		}
	}
	return dir, nil
}

// staleAfter is how long a cached file may go unused before it is removed.
const staleAfter = 30 * 24 * time.Hour

var pruneOnce sync.Once

// used marks a cached file as used now, and once per process removes the
// files in the same store that have not been used for staleAfter: every
// change to a fixture's sources leaves its old build behind.
func used(path string) {
	now := time.Now()
	_ = os.Chtimes(path, now, now)
	pruneOnce.Do(func() {
		for _, store := range []string{"fixtures", "gobuild"} {
			old, _ := filepath.Glob(filepath.Join(CacheDir(), store, "*.wasm"))
			for _, o := range old {
				if st, err := os.Stat(o); err == nil && now.Sub(st.ModTime()) > staleAfter {
					_ = os.Remove(o)
				}
			}
		}
	})
}

// hashKey is a short hex digest of parts, for cache file names.
func hashKey(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:12])
}

// withLock runs f holding an exclusive lock named name, shared with every
// other test process on the machine, so that two packages that need the
// same fixture build it once instead of both at once.
func withLock(t testing.TB, name string, f func()) {
	t.Helper()
	dir := filepath.Join(CacheDir(), "locks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("testwasm: %v", err)
	}
	unlock, err := lockFile(filepath.Join(dir, name+".lock"))
	if err != nil {
		t.Fatalf("testwasm: lock %s: %v", name, err)
	}
	defer unlock()
	f()
}
