package abi

import (
	"errors"
	"os"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
)

// The kernel's own kinds: their handles name kernel objects, and the
// kernel makes most of them itself (a process's own handle, a spawned
// child's, a call's reply handle, a forwarder's revoker).
var (
	processKind = &capkind.Descriptor{
		Kind:    capkind.Process,
		Name:    "process",
		Summary: "a process, or a service that stands for one",
		Rights:  capkind.ProcessRights,
		Open:    openObject[kernel.Target],
		Funcs:   processFunctions,
		Hint:    "nothing to grant: a process holds its children and the handles it was sent or granted",
	}
	replyKind = &capkind.Descriptor{
		Kind:    capkind.Reply,
		Name:    "reply",
		Summary: "a one-shot right to answer one call: moved, never copied",
		Funcs:   []capkind.Func{{Name: "reply", Params: capkind.I32s("reply_h", "tag", "ptr", "len", "handles_ptr", "nhandles"), Result: true, Fn: reply}},
		Hint:    "nothing to grant: every call brings one",
	}
	spawnerKind = &capkind.Descriptor{
		Kind:    capkind.Spawner,
		Name:    "spawner",
		Summary: "the right to start processes from a set of modules",
		Rights:  capkind.Use,
		Fields: []capkind.Field{{Key: "modules", Type: capkind.StringMap, Required: true,
			Example: `modules = { worker = "worker.wasm" }`, Doc: "name = path: the modules, by the name the guest spawns them as"}},
		Parse: parseSpawner,
		Open:  openSpawner,
		Funcs: []capkind.Func{{Name: "spawn", Params: capkind.I32s("spawner", "name_ptr", "name_len", "init_ptr", "init_len", "handles_ptr", "nhandles", "flags"), Result: true, Fn: spawn}},
		Hint:  "grant --spawn NAME=PATH, or a spawner capability",
	}
	revokerKind = &capkind.Descriptor{
		Kind:    capkind.Revoker,
		Name:    "revoker",
		Summary: "the right to revoke a revocable forwarder",
		Rights:  capkind.Use,
		Funcs:   []capkind.Func{{Name: "revoke", Params: capkind.I32s("revoker"), Result: true, Fn: revoke}},
		Hint:    "nothing to grant: revocable makes one",
	}
)

func init() {
	for _, d := range []*capkind.Descriptor{processKind, replyKind, spawnerKind, revokerKind} {
		capkind.Register(d)
	}
}

// SpawnerModules is what a manifest's spawner capability parses to: module
// paths by the name the guest spawns them as. They must be loaded (and Go
// packages built) before they are granted, so the CLI does that, and
// grants a spawner over the loaded modules.
type SpawnerModules map[string]string

// ErrNotLoaded is returned when a spawner is granted over module paths
// instead of loaded modules.
var ErrNotLoaded = errors.New("a spawner's modules must be loaded before it is granted")

func parseSpawner(t *capkind.Table) (any, error) {
	mods := SpawnerModules{}
	for name, path := range t.StringMap("modules") {
		mods[name] = t.Resolve(path)
		if _, err := os.Stat(mods[name]); err != nil {
			return nil, capkind.Errorf("modules."+name, "%s does not exist", mods[name])
		}
	}
	return mods, nil
}

// openObject is the Open of a kind whose spec is already the object its
// handles name: a process or service, a spawner over loaded modules.
// openSpawner opens a spawner here, or one another node published.
func openSpawner(env *capkind.Env, spec any, rights isleapi.Rights) (any, func(), error) {
	if rs, ok := spec.(*kernel.RemoteSpawner); ok {
		return rs, nil, nil
	}
	return openObject[*kernel.Spawner](env, spec, rights)
}

func openObject[T any](_ *capkind.Env, spec any, _ isleapi.Rights) (any, func(), error) {
	obj, ok := spec.(T)
	if !ok {
		if _, paths := spec.(SpawnerModules); paths {
			return nil, nil, ErrNotLoaded
		}
		return nil, nil, errors.New("the capability names nothing to grant")
	}
	return obj, nil, nil
}
