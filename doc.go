// Package isle runs WebAssembly programs as software-isolated processes
// with no ambient authority.
//
// A Node is one runtime. It loads modules (validating, fuel-instrumenting
// and compiling them, with an on-disk cache) and spawns processes from
// them. A process starts with exactly the Grants it is given and nothing
// else: the zero Grants has no arguments, no environment, no files, no
// stdio, a virtual clock that reveals nothing about the host, and no
// entropy. When it ends, its Exit says whether it exited normally with a
// code, was abandoned for a bug (with a precise, typed reason), or was
// killed.
//
//	node, err := isle.NewNode(ctx, isle.Config{CacheDir: isle.DefaultCacheDir()})
//	if err != nil { ... }
//	defer node.Close(ctx)
//	mod, err := node.LoadModuleFile(ctx, "hello.wasm")
//	if err != nil { ... }
//	p, err := node.Spawn(ctx, mod, isle.Grants{
//		Args:   []string{"hello"},
//		Stdout: os.Stdout,
//		Dirs:   []isle.Dir{{Host: "./data", Guest: "/data", ReadOnly: true}},
//	}, isle.Limits{Memory: 64 << 20, Timeout: 10 * time.Second})
//	if err != nil { ... }
//	exit, err := p.Wait(ctx)
//	switch exit.Kind {
//	case api.ExitNormal:    // exit.Code
//	case api.ExitAbandoned: // exit.Abandon.Cause, exit.Abandon.Frames
//	case api.ExitKilled:    // exit.Killed
//	}
package isle
