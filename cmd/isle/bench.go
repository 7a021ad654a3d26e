package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/isle-run/isle/bench"
)

const benchUsage = `usage: isle bench [--quick] [--only NAME[,NAME...]] [--runs N] [--out FILE]

Measures isle beside its anchors (Erlang/OTP, OS processes, goroutines,
bare wazero) on this machine and prints the results table. A full run
writes BENCHMARKS.md at the repository root and its plots under
bench/plots; --quick and --only print only, unless --out is given.

Workloads: %s
`

// benchCmd runs `isle bench`.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("isle bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var names []string
	for _, w := range bench.Workloads() {
		names = append(names, w.Name)
	}
	fs.Usage = func() { fmt.Fprintf(stderr, benchUsage, strings.Join(names, ", ")); fs.PrintDefaults() }
	quick := fs.Bool("quick", false, "run every workload at a tiny size (a smoke test)")
	only := fs.String("only", "", "comma-separated workloads to run")
	runs := fs.Int("runs", 0, "counted runs per figure (default 5, or 2 with --quick)")
	out := fs.String("out", "", "write the Markdown report here (default: BENCHMARKS.md at the repository root, for a full run)")
	noInstall := fs.Bool("no-install", false, "do not install Erlang with apt-get when it is missing")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0, nil
		}
		return 0, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return 0, usagef("isle bench takes no arguments, got %q", fs.Arg(0))
	}
	opts := bench.Options{Quick: *quick, Runs: *runs, InstallErlang: !*noInstall, Log: stderr}
	if *only != "" {
		for _, name := range strings.Split(*only, ",") {
			opts.Only = append(opts.Only, strings.TrimSpace(name))
		}
	}
	root, err := bench.FindRoot()
	if err != nil {
		return 0, err
	}
	opts.Root = root
	md := *out
	if md == "" && !*quick && len(opts.Only) == 0 {
		md = filepath.Join(root, "BENCHMARKS.md")
	}
	start := time.Now()
	rep, err := bench.Run(ctx, opts)
	if err != nil {
		return 0, err
	}
	if len(rep.Targets) > 0 {
		rep.TargetTable(stdout)
		fmt.Fprintln(stdout)
	}
	rep.Table(stdout)
	if md != "" {
		plots := filepath.Join(filepath.Dir(md), "bench", "plots")
		if err := rep.Write(md, plots); err != nil {
			return 0, err
		}
		fmt.Fprintf(stderr, "isle bench: wrote %s and %s\n", md, plots)
	}
	fmt.Fprintf(stderr, "isle bench: done in %v\n", time.Since(start).Round(time.Second))
	return 0, nil
}
