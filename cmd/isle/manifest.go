package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/manifest"
)

// defaultDataDir is $XDG_DATA_HOME/isle, or ~/.local/share/isle.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "isle")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "isle")
	}
	return ""
}

// planFromManifest grants exactly what the manifest says. Flags given on
// the command line override its limits and add to its grants.
func planFromManifest(path string, o *runOptions, guestArgs []string, stdin io.Reader, stdout, stderr io.Writer) (*plan, error) {
	m, err := manifest.Load(path)
	if err != nil {
		return nil, usagef("%v", err)
	}
	pl := &plan{module: m.Module, spawn: map[string]string{}, dataDir: o.dataDir,
		capSpawners: map[string]map[string]string{}}
	if m.DataDir != "" {
		pl.dataDir = m.DataDir
	}
	for _, s := range o.spawn {
		pl.spawn[s.name] = s.path
	}
	g := isle.Grants{
		Args:  append(append([]string{filepath.Base(m.Module)}, m.Args...), guestArgs...),
		Env:   append(m.Env, o.env...),
		Clock: m.WASIClock,
		Caps:  map[string]isle.Capability{},
	}
	if m.WASIRandom {
		g.Random = isle.SystemRandom()
	}
	if m.Stdio {
		g.Stdin, g.Stdout, g.Stderr = stdin, stdout, stderr
	} else {
		fmt.Fprintf(stderr, "isle: %s grants no stdio, so the program's output goes nowhere (add stdio = true to see it)\n", path)
	}
	for _, c := range m.Caps {
		if err := addCap(pl, &g, c); err != nil {
			return nil, usagef("%s: caps.%s: %v", path, c.Name, err)
		}
	}
	for _, d := range o.dirs {
		g.Dirs = append(g.Dirs, isle.Dir{Host: d.host, Guest: d.guest, ReadOnly: d.readOnly})
	}
	pl.grants = g
	if o.http == "" {
		o.http = m.Listen
	}
	pl.limits = isle.Limits{Memory: m.Limits.Memory, Fuel: m.Limits.Fuel, Mailbox: m.Limits.Mailbox, Timeout: m.Limits.Timeout}
	if o.memory != 0 {
		pl.limits.Memory = uint64(o.memory)
	}
	if o.fuel != 0 {
		pl.limits.Fuel = o.fuel
	}
	if o.timeout != 0 {
		pl.limits.Timeout = time.Duration(o.timeout)
	}
	return pl, nil
}

// addCap turns one manifest capability into a grant.
func addCap(pl *plan, g *isle.Grants, c manifest.Cap) error {
	switch c.Kind {
	case "dir":
		g.Caps[c.Name] = isle.DirCap(c.Path, c.Rights)
		if c.Mount != "" {
			g.Dirs = append(g.Dirs, isle.Dir{Host: c.Path, Guest: c.Mount, Rights: c.Rights})
		}
	case "clock":
		g.Caps[c.Name] = isle.ClockCap(c.Rights)
	case "random":
		g.Caps[c.Name] = isle.RandomCap(nil)
	case "log":
		g.Caps[c.Name] = isle.LogCap()
	case "spawner":
		pl.capSpawners[c.Name] = c.Modules
	default:
		return addServiceCap(g, c)
	}
	return nil
}
