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
	pl := &plan{module: m.Module, spawn: map[string]string{}, dataDir: o.dataDir}
	if m.DataDir != "" {
		pl.dataDir = m.DataDir
	}
	for _, s := range o.spawn {
		pl.spawn[s.name] = s.path
	}
	if !m.Stdio {
		fmt.Fprintf(stderr, "isle: %s grants no stdio, so the program's output goes nowhere (add stdio = true to see it)\n", path)
	}
	g, spawners, err := programGrants(path, "", m.Program, stdin, stdout, stderr)
	if err != nil {
		return nil, err
	}
	g.Args = append(g.Args, guestArgs...)
	g.Env = append(g.Env, o.env...)
	for _, d := range o.dirs {
		g.Dirs = append(g.Dirs, isle.Dir{Host: d.host, Guest: d.guest, ReadOnly: d.readOnly})
	}
	pl.grants, pl.capSpawners = g, spawners
	if o.http == "" {
		o.http = m.Listen
	}
	pl.limits = programLimits(m.Program)
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

// programGrants grants exactly what a manifest's program lists. Spawner
// capabilities come back apart, as module paths by grant name: they need
// the modules loaded. key is where the program is in the file, for errors.
func programGrants(path, key string, m manifest.Program, stdin io.Reader, stdout, stderr io.Writer) (isle.Grants, map[string]map[string]string, error) {
	g := isle.Grants{
		Args:  append([]string{filepath.Base(m.Module)}, m.Args...),
		Env:   m.Env,
		Clock: m.WASIClock,
		Caps:  map[string]isle.Capability{},
	}
	if m.WASIRandom {
		g.Random = isle.SystemRandom()
	}
	if m.Stdio {
		g.Stdin, g.Stdout, g.Stderr = stdin, stdout, stderr
	}
	spawners := map[string]map[string]string{}
	for _, c := range m.Caps {
		if c.Kind == "spawner" {
			spawners[c.Name] = c.Modules
			continue
		}
		if err := addCap(&g, c); err != nil {
			return g, nil, usagef("%s: %scaps.%s: %v", path, key, c.Name, err)
		}
	}
	return g, spawners, nil
}

// programLimits are a program's limits, as the API takes them.
func programLimits(m manifest.Program) isle.Limits {
	return isle.Limits{Memory: m.Limits.Memory, Fuel: m.Limits.Fuel, Mailbox: m.Limits.Mailbox, Timeout: m.Limits.Timeout}
}

// addCap turns one manifest capability, other than a spawner, into a
// grant.
func addCap(g *isle.Grants, c manifest.Cap) error {
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
	default:
		return addServiceCap(g, c)
	}
	return nil
}
