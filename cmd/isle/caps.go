package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/gobuild"
	"github.com/isle-run/isle/internal/wasm"
)

// need is a kind of authority a module can ask for, and the imports that
// reveal it. These are WASI's and the isle functions of no particular
// kind; each kind of capability says its own (capkind.Descriptor.Hint).
type need struct {
	what, grant string
	imports     []string // "module.name"
}

var needs = []need{
	{"standard input and output", "isle run grants them; in Go, Grants.Stdin/Stdout/Stderr", []string{"wasi_snapshot_preview1.fd_read", "wasi_snapshot_preview1.fd_write"}},
	{"arguments", "give them after --", []string{"wasi_snapshot_preview1.args_get"}},
	{"environment variables", "grant each with --env NAME=VALUE", []string{"wasi_snapshot_preview1.environ_get"}},
	{"files", "grant --dir, --ro-dir, or a dir capability", []string{"wasi_snapshot_preview1.path_open"}},
	{"the clock", "isle run grants it (virtual with --deterministic), or grant a clock capability", []string{"wasi_snapshot_preview1.clock_time_get"}},
	{"randomness", "isle run grants it (seeded with --deterministic), or grant a random capability", []string{"wasi_snapshot_preview1.random_get"}},
	{"sockets", "isle grants no sockets: use an http capability", []string{"wasi_snapshot_preview1.sock_accept", "wasi_snapshot_preview1.sock_recv", "wasi_snapshot_preview1.sock_send"}},
	{"messages", "nothing to grant: a process receives, and sends to the handles it holds", []string{"isle.recv", "isle.msg_read", "isle.msg_handles"}},
	{"capabilities by name", "grant them in a manifest's [caps], or Grants.Caps in Go", []string{"isle.grant"}},
}

// capsCmd prints what a module imports and what authority that asks for.
func capsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) != 1 {
		return 0, usagef("usage: isle caps MODULE")
	}
	path := args[0]
	info, err := os.Stat(path)
	if err != nil {
		return 0, usagef("%s: no such file or directory", path)
	}
	if info.IsDir() {
		var progress io.Writer
		if isTerminal(stderr) {
			progress = stderr
		}
		res, err := gobuild.Build(ctx, path, gobuild.Options{CacheDir: defaultCacheDir(), Progress: progress})
		if err != nil {
			return 0, usagef("%v", err)
		}
		path = res.Path
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return 0, usagef("%v", err)
	}
	m, err := wasm.Decode(bin)
	if err != nil {
		return 0, usagef("%s: not a valid WebAssembly module: %v", args[0], err)
	}
	var imports []wasm.Import
	if s := m.Section(wasm.SectionImport); s != nil {
		if imports, err = wasm.DecodeImports(s.Payload); err != nil {
			return 0, usagef("%s: bad import section: %v", args[0], err)
		}
	}
	printCaps(stdout, args[0], m, imports)
	return 0, nil
}

func printCaps(w io.Writer, name string, m *wasm.Module, imports []wasm.Import) {
	var mods []string
	byModule := map[string][]string{}
	have := map[string]bool{}
	for _, im := range imports {
		key := im.Module + "." + im.Name
		if have[key] {
			continue // a module may import one function more than once
		}
		have[key] = true
		if byModule[im.Module] == nil {
			mods = append(mods, im.Module)
		}
		byModule[im.Module] = append(byModule[im.Module], im.Name)
	}
	fmt.Fprintf(w, "%s imports:\n", name)
	sort.Strings(mods)
	for _, mod := range mods {
		fmt.Fprintf(w, "  %s: %s\n", mod, strings.Join(byModule[mod], ", "))
	}
	fmt.Fprintf(w, "and so asks for:\n")
	asked := false
	ask := func(what, grant string, via []string) {
		if len(via) > 0 {
			asked = true
			fmt.Fprintf(w, "  %s (%s): %s\n", what, strings.Join(via, ", "), grant)
		}
	}
	for _, n := range needs {
		var via []string
		for _, im := range n.imports {
			if have[im] {
				via = append(via, im[strings.IndexByte(im, '.')+1:])
			}
		}
		ask(n.what, n.grant, via)
	}
	for _, d := range capkind.All() {
		var via []string
		for _, f := range d.Funcs {
			if have[abi.ModuleName+"."+f.Name] {
				via = append(via, f.Name)
			}
		}
		ask(d.Summary, d.Hint, via)
	}
	if !asked {
		fmt.Fprintln(w, "  nothing: it can only compute")
	}
	if have[abi.ModuleName+".grant"] {
		if names := grantNames(m, imports); len(names) > 0 {
			fmt.Fprintf(w, "it looks up the grants: %s\n", strings.Join(names, ", "))
		} else {
			fmt.Fprintln(w, "it looks up grants by names its code computes, not constants")
		}
	}
	if s := m.Custom("isle.manifest"); s != nil {
		fmt.Fprintf(w, "its embedded manifest (custom section isle.manifest):\n%s\n", strings.TrimSpace(string(s.Payload)))
	}
}

func defaultCacheDir() string {
	o := &runOptions{}
	newRunFlags(o)
	return o.cacheDir
}
