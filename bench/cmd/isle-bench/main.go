// Command isle-bench measures isle beside its anchors (Erlang/OTP, OS
// processes, goroutines, bare wazero) on this machine, and writes
// BENCHMARKS.md. It builds its fixtures from the source tree, so run it
// from inside the isle repository:
//
//	go run ./bench/cmd/isle-bench [--quick] [--only NAME,...] [--runs N] [--out FILE]
//
// It is a tool for isle's developers and lives apart from the isle
// command, which carries no benchmark code.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/isle-run/isle/bench"
)

const usage = `usage: go run ./bench/cmd/isle-bench [--quick] [--only NAME[,NAME...]] [--runs N] [--out FILE]

Measures isle beside its anchors (Erlang/OTP, OS processes, goroutines,
bare wazero) on this machine and prints the results table. A full run
writes BENCHMARKS.md at the repository root and its plots under
bench/plots; --quick and --only print only, unless --out is given.
Erlang figures need escript (Debian's erlang-base); without it they are
reported as skipped.

Workloads: %s
`

// errUsage marks bad flags or arguments: exit status 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stderr, "isle-bench: %v\n", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "isle-bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("isle-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var names []string
	for _, w := range bench.Workloads() {
		names = append(names, w.Name)
	}
	fs.Usage = func() { fmt.Fprintf(stderr, usage, strings.Join(names, ", ")); fs.PrintDefaults() }
	quick := fs.Bool("quick", false, "run every workload at a tiny size (a smoke test)")
	only := fs.String("only", "", "comma-separated workloads to run")
	runs := fs.Int("runs", 0, "counted runs per figure (default 5, or 2 with --quick)")
	out := fs.String("out", "", "write the Markdown report here (default: BENCHMARKS.md at the repository root, for a full run)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: isle-bench takes no arguments, got %q", errUsage, fs.Arg(0))
	}
	opts := bench.Options{Quick: *quick, Runs: *runs, Log: stderr}
	if *only != "" {
		for _, name := range strings.Split(*only, ",") {
			opts.Only = append(opts.Only, strings.TrimSpace(name))
		}
	}
	root, err := bench.FindRoot()
	if err != nil {
		return err
	}
	opts.Root = root
	md := *out
	if md == "" && !*quick && len(opts.Only) == 0 {
		md = filepath.Join(root, "BENCHMARKS.md")
	}
	start := time.Now()
	rep, err := bench.Run(ctx, opts)
	if err != nil {
		return err
	}
	if len(rep.Targets) > 0 {
		rep.TargetTable(stdout)
		fmt.Fprintln(stdout)
	}
	rep.Table(stdout)
	if md != "" {
		plots := filepath.Join(filepath.Dir(md), "bench", "plots")
		if err := rep.Write(md, plots); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "isle-bench: wrote %s and %s\n", md, plots)
	}
	fmt.Fprintf(stderr, "isle-bench: done in %v\n", time.Since(start).Round(time.Second))
	return nil
}
