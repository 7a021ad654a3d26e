package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/manifest"
	"github.com/isle-run/isle/internal/services/dirs"
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
	g, spawners := programGrants(m.Program, stdin, stdout, stderr)
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
	if o.processes != 0 {
		pl.limits.Processes = o.processes
	}
	if o.files != 0 {
		pl.limits.Files = o.files
	}
	pl.limits.NoImage = pl.limits.NoImage || o.noImage
	return pl, nil
}

// programGrants grants exactly what a manifest's program lists. Spawner
// capabilities come back apart, as module paths by grant name: they need
// the modules loaded. The manifest was checked when it was read, so this
// cannot fail; a grant that cannot be opened fails the spawn.
func programGrants(m manifest.Program, stdin io.Reader, stdout, stderr io.Writer) (isle.Grants, map[string]map[string]string) {
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
		switch spec := c.Spec.(type) {
		case abi.SpawnerModules:
			spawners[c.Name] = spec // granted once the modules are loaded
			continue
		case dirs.Spec:
			// A manifest's directory may also be a WASI preopen.
			if spec.Mount != "" {
				g.Dirs = append(g.Dirs, isle.Dir{Host: spec.Path, Guest: spec.Mount, Rights: c.Rights})
			}
		}
		g.Caps[c.Name] = capkind.NewCapability(c.Kind, c.Rights, c.Spec).(isle.Capability)
	}
	return g, spawners
}

// programLimits are a program's limits, as the API takes them.
func programLimits(m manifest.Program) isle.Limits {
	return isle.Limits{Memory: m.Limits.Memory, Fuel: m.Limits.Fuel, Mailbox: m.Limits.Mailbox, Timeout: m.Limits.Timeout,
		Processes: m.Limits.Processes, Files: m.Limits.Files, NoImage: m.NoImage}
}
