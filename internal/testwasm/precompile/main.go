// Command precompile loads wasm modules into an isle node's compilation
// cache, so that tests running under the race detector, which makes
// wazero's compiler several times slower, find them compiled. testwasm.Go
// runs it; it is not a tool for users.
//
//	go run ./internal/testwasm/precompile -cache DIR FILE.wasm...
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

	"github.com/tetratelabs/wazero/experimental"

	"github.com/isle-run/isle"
)

func main() {
	cache := flag.String("cache", "", "the node's cache directory (isle.Config.CacheDir)")
	flag.Parse()
	if *cache == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: precompile -cache DIR FILE.wasm...")
		os.Exit(2)
	}
	if err := run(*cache, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "precompile:", err)
		os.Exit(1)
	}
}

func run(cache string, files []string) error {
	ctx := experimental.WithCompilationWorkers(context.Background(), runtime.GOMAXPROCS(0))
	node, err := isle.NewNode(ctx, isle.Config{CacheDir: cache})
	if err != nil {
		return err
	}
	defer node.Close(ctx)
	if err := os.MkdirAll(filepath.Join(cache, "precompiled"), 0o755); err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if _, err := node.LoadModule(ctx, f, b); err != nil {
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
