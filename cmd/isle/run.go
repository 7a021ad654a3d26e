package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/gobuild"
)

// runOptions are the flags of `isle run`.
type runOptions struct {
	spawn         spawnFlag
	dirs          []dirGrant
	env           envFlag
	memory        sizeFlag
	kvMax         kvMaxFlag
	timeout       durationFlag
	fuel          int64
	processes     int
	files         int
	deterministic bool
	noImage       bool
	stats         bool
	cacheDir      string
	dataDir       string
	http          string
	admin         string
}

func newRunFlags(o *runOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(dirFlag{dirs: &o.dirs}, "dir", "grant a read-write directory, `HOST[::GUEST]` (repeatable)")
	fs.Var(dirFlag{dirs: &o.dirs, readOnly: true}, "ro-dir", "grant a read-only directory, `HOST[::GUEST]` (repeatable)")
	fs.Var(&o.env, "env", "set a guest environment variable, `NAME=VALUE` (repeatable)")
	fs.Var(&o.spawn, "spawn", "let the guest spawn processes from the module at PATH under NAME, `NAME=PATH` (repeatable; the main module is always spawnable under its own name)")
	fs.Var(&o.memory, "memory", "cap linear memory, such as `64MiB` (default 4GiB)")
	fs.Var(&o.timeout, "timeout", "kill the guest after this `duration`, such as 10s")
	fs.Int64Var(&o.fuel, "fuel", 0, "abandon the guest after it spends this much `fuel` (0: unlimited)")
	fs.IntVar(&o.processes, "processes", 0, "bound the live processes of the guest's tree, itself included, to `N` (0: the node's quota for a tree, 100,000)")
	fs.IntVar(&o.files, "files", 0, "bound the host descriptors (files, directories, HTTP requests in flight) the guest's tree holds open to `N` (0: the node's default for a tree)")
	fs.BoolVar(&o.deterministic, "deterministic", false, "virtual clock and seeded randomness: identical runs give identical output")
	fs.BoolVar(&o.noImage, "no-image", false, "make a Go command or a reactor with _initialize (a Go reactor), and any process it spawns, run its own init rather than start from a copy-on-write image of its initialised state")
	fs.BoolVar(&o.stats, "stats", false, "print fuel used, peak memory (everything the node held for the process, and for its tree) and wall time on exit")
	fs.StringVar(&o.cacheDir, "cache-dir", isle.DefaultCacheDir(), "where compiled modules are cached (empty: no disk cache)")
	fs.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "where durable state such as key-value buckets lives")
	fs.Var(&o.kvMax, "kv-max", kvMaxUsage)
	fs.StringVar(&o.http, "http", "", "serve the process over HTTP at `ADDR` (such as 127.0.0.1:8080) until it exits or isle is interrupted: each request becomes a message, the reply the response")
	fs.StringVar(&o.admin, "admin", "", "serve the dashboard and Prometheus /metrics at `ADDR` (such as 127.0.0.1:9090; a bare :PORT is loopback; elsewhere it needs a token, from $ISLE_ADMIN_TOKEN or printed at start)")
	return fs
}

// parseRun splits `isle run` arguments into options, the module and the
// guest's arguments.
func parseRun(args []string) (*runOptions, string, []string, error) {
	o := &runOptions{}
	fs := newRunFlags(o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, "", nil, usagef("%s; %s", usageLine, moreHelpSentence)
		}
		var unknown *unknownFlagError
		if errors.As(flagError(fs, args, err), &unknown) {
			return nil, "", nil, usagef("%v", unknown)
		}
		return nil, "", nil, usagef("%v", err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return nil, "", nil, usagef("no module given; %s", usageLine)
	}
	module, guestArgs := rest[0], rest[1:]
	if len(guestArgs) > 0 && guestArgs[0] == "--" {
		guestArgs = guestArgs[1:]
	} else if name := ownFlag(fs, guestArgs); name != "" {
		return nil, "", nil, usagef("flag -%s comes after the module, where the guest would get it: put isle's flags before MODULE, and the guest's arguments after --", name)
	}
	if o.fuel < 0 {
		return nil, "", nil, usagef("--fuel must not be negative")
	}
	if o.processes < 0 || o.files < 0 {
		return nil, "", nil, usagef("--processes and --files must not be negative; 0 keeps the node's default")
	}
	return o, module, guestArgs, nil
}

// ownFlag returns the name of the first of isle's own flags among args
// (before any "--"), or "".
func ownFlag(fs *flag.FlagSet, args []string) string {
	for _, a := range args {
		if a == "--" {
			return ""
		}
		name, ok := strings.CutPrefix(a, "-")
		if !ok {
			continue
		}
		name = strings.TrimPrefix(name, "-")
		name, _, _ = strings.Cut(name, "=")
		if fs.Lookup(name) != nil {
			return name
		}
	}
	return ""
}

func runCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	o, module, guestArgs, err := parseRun(args)
	if err != nil {
		return 0, err
	}
	var pl *plan
	if strings.HasSuffix(module, ".toml") {
		pl, err = planFromManifest(module, o, guestArgs, stdin, stdout, stderr)
	} else {
		pl, err = planFromFlags(module, o, guestArgs, stdin, stdout, stderr)
	}
	if err != nil {
		return 0, err
	}
	// The node's own warnings and crash reports go to stderr, and so do
	// the log capability's records, with the name of their process.
	logger := slog.New(newRunLog(stderr))
	tp, stopTracing, err := startTracing(ctx, stderr)
	if err != nil {
		return 0, err
	}
	defer stopTracing() // after the node closes, so its last spans go too
	node, err := isle.NewNode(ctx, isle.Config{CacheDir: o.cacheDir, DataDir: pl.dataDir, KVMaxBytes: int64(o.kvMax), Logger: logger, TracerProvider: tp})
	if err != nil {
		return 0, err
	}
	defer node.Close(context.Background())
	if o.admin != "" {
		stopAdmin, err := startAdmin(node, o.admin, stderr)
		if err != nil {
			return 0, err
		}
		defer stopAdmin()
	}
	// Go packages are built first, bounded by signals only: that is the
	// user's own toolchain. From then on --timeout counts: loading a
	// module (rewriting and compiling it) is bounded by it too.
	if err := pl.build(ctx, o.cacheDir, stderr); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "isle: interrupted while building %s\n", pl.module)
			return statusInterrupt, nil
		}
		return 0, err
	}
	loadCtx := ctx
	var deadline time.Time
	if pl.limits.Timeout > 0 {
		deadline = time.Now().Add(pl.limits.Timeout)
		var cancel context.CancelFunc
		loadCtx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	if err := pl.load(loadCtx, node, stderr); err != nil {
		switch {
		case ctx.Err() != nil:
			fmt.Fprintf(stderr, "isle: interrupted while loading %s\n", pl.module)
			return statusInterrupt, nil
		case loadCtx.Err() != nil:
			fmt.Fprintf(stderr, "isle: --timeout %s expired while loading %s\n", pl.limits.Timeout, pl.module)
			return statusTimeout, nil
		}
		return 0, err
	}
	if !deadline.IsZero() {
		pl.limits.Timeout = max(time.Until(deadline), time.Nanosecond)
	}
	// Its path is printed only on a terminal: a script's stderr stays the
	// guest's own.
	defer startControl(node, "isle run "+module, stderr, isTerminal(stderr))()
	if o.http != "" {
		return serve(ctx, node, pl, o.http, o.stats, stderr)
	}
	p, err := node.Spawn(ctx, pl.mod, pl.grants, pl.limits)
	if err != nil {
		return 0, usagef("%v", err)
	}
	exit, err := p.Wait(context.Background())
	if err != nil {
		return 0, err
	}
	if o.stats {
		printStats(stderr, p.Stats())
	}
	return exitStatus(stderr, pl.module, exit, ctx.Err() != nil), nil
}

// plan is what a run will start: the module, what it may spawn, its grants
// and limits, from flags or from a manifest.
type plan struct {
	module  string
	mod     *isle.Module
	spawn   map[string]string // module paths by spawn name
	dataDir string
	grants  isle.Grants
	limits  isle.Limits
	// capSpawners lists manifest spawner capabilities to build once the
	// modules are loaded.
	capSpawners map[string]map[string]string
	// wasm maps each module path to its .wasm file, once built.
	wasm map[string]string
}

func planFromFlags(module string, o *runOptions, guestArgs []string, stdin io.Reader, stdout, stderr io.Writer) (*plan, error) {
	pl := &plan{module: module, spawn: map[string]string{}, dataDir: o.dataDir}
	for _, s := range o.spawn {
		pl.spawn[s.name] = s.path
	}
	pl.grants = isle.Grants{
		Args:   append([]string{filepath.Base(module)}, guestArgs...),
		Env:    o.env,
		Stdin:  stdin,
		Stdout: stdout,
		Stderr: stderr,
		Clock:  !o.deterministic,
		Random: isle.SystemRandom(),
	}
	if o.deterministic {
		pl.grants.Random = isle.SeededRandom(0)
	}
	for _, d := range o.dirs {
		pl.grants.Dirs = append(pl.grants.Dirs, isle.Dir{Host: d.host, Guest: d.guest, ReadOnly: d.readOnly})
	}
	pl.limits = isle.Limits{Memory: uint64(o.memory), Fuel: o.fuel, Timeout: time.Duration(o.timeout),
		Processes: o.processes, Files: o.files, NoImage: o.noImage}
	return pl, nil
}

// build builds every Go package directory the plan names, so that load
// finds only .wasm files.
func (pl *plan) build(ctx context.Context, cacheDir string, stderr io.Writer) error {
	pl.wasm = map[string]string{}
	paths := []string{pl.module}
	for _, p := range pl.spawn {
		paths = append(paths, p)
	}
	for _, mods := range pl.capSpawners {
		for _, p := range mods {
			paths = append(paths, p)
		}
	}
	for _, p := range paths {
		w, err := buildModule(ctx, p, cacheDir, stderr)
		if err != nil {
			return err
		}
		pl.wasm[p] = w
	}
	return nil
}

// load loads the main module and everything it may spawn, and finishes the
// grants that need loaded modules. Precondition: build has run.
func (pl *plan) load(ctx context.Context, node *isle.Node, stderr io.Writer) error {
	mod, err := loadWasm(ctx, node, pl.module, pl.wasm[pl.module], stderr)
	if err != nil {
		return err
	}
	pl.mod = mod
	spawnable := map[string]*isle.Module{moduleName(pl.module): mod}
	for name, path := range pl.spawn {
		if spawnable[name], err = loadWasm(ctx, node, path, pl.wasm[path], stderr); err != nil {
			return err
		}
	}
	if _, taken := pl.capSpawners["spawner"]; !taken {
		pl.grants.Spawn = spawnable // the manifest's own spawner wins
	}
	for grant, mods := range pl.capSpawners {
		loaded := map[string]*isle.Module{}
		for name, path := range mods {
			if loaded[name], err = loadWasm(ctx, node, path, pl.wasm[path], stderr); err != nil {
				return err
			}
		}
		pl.grants.Caps[grant] = isle.SpawnerCap(loaded)
	}
	if mod.Reactor() {
		// A reactor has no argv: it gets its arguments as its first
		// message, NUL-separated, as a spawned process gets its init.
		pl.grants.Init = []byte(strings.Join(pl.grants.Args[1:], "\x00"))
	}
	return nil
}

// moduleName is what a module is spawned as: its file or directory name
// without a .wasm extension.
func moduleName(path string) string {
	return strings.TrimSuffix(filepath.Base(filepath.Clean(path)), ".wasm")
}

// buildModule returns the .wasm file for path: path itself, or the build
// of the Go package directory it names.
func buildModule(ctx context.Context, path, cacheDir string, stderr io.Writer) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", usagef("%s: no such file or directory", path)
	}
	if !info.IsDir() {
		return path, nil
	}
	var progress io.Writer
	if isTerminal(stderr) {
		progress = stderr
	}
	res, err := gobuild.Build(ctx, path, gobuild.Options{CacheDir: cacheDir, Progress: progress})
	if err != nil {
		return "", usagef("%v", err)
	}
	return res.Path, nil
}

// loadWasm loads the .wasm file built for path, with a progress line on
// stderr if that is a terminal and compiling takes a while.
func loadWasm(ctx context.Context, node *isle.Node, path, wasmPath string, stderr io.Writer) (*isle.Module, error) {
	bin, err := os.ReadFile(wasmPath)
	if err != nil {
		return nil, usagef("%v", err)
	}
	stop := startProgress(stderr, filepath.Base(path))
	mod, err := node.LoadModule(ctx, filepath.Base(path), bin)
	stop(err == nil)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return mod, nil
}

// exitStatus prints what the user must know about how the guest ended and
// maps it to isle's exit status.
func exitStatus(stderr io.Writer, module string, exit api.Exit, interrupted bool) int {
	name := filepath.Base(module)
	switch exit.Kind {
	case api.ExitNormal:
		if exit.Code > maxPassThrough {
			fmt.Fprintf(stderr, "isle: %s exited with code %d, reported as %d\n", name, exit.Code, statusCodeRange)
			return statusCodeRange
		}
		return int(exit.Code)
	case api.ExitAbandoned:
		fmt.Fprintf(stderr, "isle: %s abandoned: %s\n", name, exit.Abandon.Error())
		if len(exit.Abandon.Frames) > 0 {
			fmt.Fprintf(stderr, "wasm stack trace:\n%s", exit.Abandon.Trace())
		}
		return statusAbandoned
	case api.ExitKilled:
		fmt.Fprintf(stderr, "isle: %s killed: %s\n", name, exit.Killed)
		switch {
		case exit.Killed == "timeout":
			return statusTimeout
		case interrupted:
			return statusInterrupt
		}
		return statusKilled
	}
	return statusInternal
}

// printStats prints the main process's figures, then its whole tree's
// when it spawned others.
func printStats(w io.Writer, s isle.Stats) {
	fmt.Fprintf(w, "isle: fuel %d, peak memory %s (linear %s), wall %s\n", s.Fuel, formatBytes(s.PeakMemory),
		formatBytes(s.PeakLinear), s.Wall.Round(time.Microsecond))
	if s.Tree.Fuel != s.Fuel || s.Tree.PeakMemory != s.PeakMemory {
		fmt.Fprintf(w, "isle: with its descendants: fuel %d, peak memory %s, %d still running\n",
			s.Tree.Fuel, formatBytes(s.Tree.PeakMemory), s.Tree.Processes)
	}
}

func formatBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
