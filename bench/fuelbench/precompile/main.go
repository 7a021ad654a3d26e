// Command precompile builds the fuel benchmark's kernels and compiles them
// every way into a cache directory (fuelbench.Prepare), for the tests:
// under the race detector wazero compiles a Go kernel several times more
// slowly, so they have it done by this, built without it. It is not a tool
// for users.
//
//	go run ./bench/fuelbench/precompile -cache DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/isle-run/isle/bench/fuelbench"
)

func main() {
	cache := flag.String("cache", "", "the cache directory (fuelbench.Options.CacheDir)")
	flag.Parse()
	if *cache == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: precompile -cache DIR")
		os.Exit(2)
	}
	if err := fuelbench.Prepare(context.Background(), fuelbench.Options{CacheDir: *cache}); err != nil {
		fmt.Fprintln(os.Stderr, "precompile:", err)
		os.Exit(1)
	}
}
