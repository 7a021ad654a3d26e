// Command precompile loads wasm modules into an isle node's compilation
// cache, so that tests running under the race detector, which makes
// wazero's compiler several times slower, find them compiled. testwasm.Go
// runs it; it is not a tool for users.
//
//	go run ./internal/testwasm/precompile -cache DIR FILE.wasm...
//	go run ./internal/testwasm/precompile -raw -cache DIR FILE.wasm...
//
// With -raw, the modules are compiled as they are by a plain wazero
// compiler runtime into the wazero compilation cache DIR, instead of
// through an isle node (which rewrites them for fuel first).
//
// Each module that loads gets a marker, DIR/precompiled/SHA256, and is not
// loaded again. A module that fails to load gets none and no error here:
// the test that loads it reports the failure itself.
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/isle-run/isle"
)

func main() {
	cache := flag.String("cache", "", "the node's cache directory (isle.Config.CacheDir), or wazero's with -raw")
	raw := flag.Bool("raw", false, "compile with plain wazero, not through an isle node")
	flag.Parse()
	if *cache == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: precompile [-raw] -cache DIR FILE.wasm...")
		os.Exit(2)
	}
	if err := run(*cache, *raw, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "precompile:", err)
		os.Exit(1)
	}
}

func run(cache string, raw bool, files []string) error {
	ctx := experimental.WithCompilationWorkers(context.Background(), runtime.GOMAXPROCS(0))
	load, done, err := loader(ctx, cache, raw)
	if err != nil {
		return err
	}
	defer done()
	if err := os.MkdirAll(filepath.Join(cache, "precompiled"), 0o755); err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := load(f, b); err != nil {
			fmt.Fprintf(os.Stderr, "precompile: %v (left to the test)\n", err)
			continue
		}
		marker := filepath.Join(cache, "precompiled", fmt.Sprintf("%x", sha256.Sum256(b)))
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// loader returns what compiles a module into cache, and what releases it.
func loader(ctx context.Context, cache string, raw bool) (load func(name string, b []byte) error, done func(), err error) {
	if raw {
		cc, err := wazero.NewCompilationCacheWithDir(cache)
		if err != nil {
			return nil, nil, err
		}
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(cc))
		return func(_ string, b []byte) error {
			_, err := rt.CompileModule(ctx, b)
			return err
		}, func() { rt.Close(ctx) }, nil
	}
	node, err := isle.NewNode(ctx, isle.Config{CacheDir: cache})
	if err != nil {
		return nil, nil, err
	}
	return func(name string, b []byte) error {
		_, err := node.LoadModule(ctx, name, b)
		return err
	}, func() { node.Close(ctx) }, nil
}
