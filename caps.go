package isle

import (
	"fmt"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capfs"
	"github.com/isle-run/isle/internal/kernel"
)

// Capability is a right the host can grant a process under a name, in
// Grants.Caps. The process finds it with grant(name) and uses it through
// the isle ABI. Build one with the functions below; each takes the rights
// the process gets, and a process can narrow them further but never widen
// them.
type Capability struct {
	kind   kernel.Kind
	rights api.Rights
	// open makes the capability's object on the node; release undoes it
	// when the process ends.
	open func(n *Node) (obj any, release func(), err error)
}

// ProcessCap grants a handle to another process.
func ProcessCap(p *Process, rights api.Rights) Capability {
	return Capability{kind: kernel.KindProcess, rights: rights,
		open: func(*Node) (any, func(), error) { return p.p, nil, nil }}
}

// DirCap grants a host directory as a handle, usable with the directory
// functions of the ABI and, through the SDKs, as a path. Confinement is the
// same as Grants.Dirs.
func DirCap(host string, rights api.Rights) Capability {
	return Capability{kind: kernel.KindDir, rights: rights, open: func(*Node) (any, func(), error) {
		fs, err := capfs.Open(host, capfs.Rights(rights))
		if err != nil {
			return nil, nil, err
		}
		return fs, func() { _ = fs.Close() }, nil
	}}
}

// SpawnerCap grants the right to start processes from these modules, by
// the names given.
func SpawnerCap(modules map[string]*Module) Capability {
	return Capability{kind: kernel.KindSpawner, rights: api.RightUse, open: func(*Node) (any, func(), error) {
		sp := &kernel.Spawner{Modules: map[string]*kernel.Module{}}
		for name, m := range modules {
			sp.Modules[name] = m.m
		}
		return sp, nil, nil
	}}
}

// resolve opens every capability in caps, returning them in the kernel's
// form and one function that releases them all.
func (n *Node) resolve(caps map[string]Capability, into map[string]kernel.Cap) (func(), error) {
	var releases []func()
	release := func() {
		for _, r := range releases {
			r()
		}
	}
	for name, c := range caps {
		if c.open == nil {
			release()
			return nil, fmt.Errorf("grant %q: the zero Capability grants nothing; build one with a constructor such as isle.KVCap or isle.DirCap", name)
		}
		if extra := kernel.Rights(c.rights) &^ kernel.AllRights(c.kind); extra != 0 {
			release()
			return nil, fmt.Errorf("grant %q: rights %#x do not exist for a %s capability", name, uint32(extra), c.kind)
		}
		obj, r, err := c.open(n)
		if err != nil {
			release()
			return nil, fmt.Errorf("grant %q: %w", name, err)
		}
		if r != nil {
			releases = append(releases, r)
		}
		into[name] = kernel.Cap{Kind: c.kind, Rights: kernel.Rights(c.rights), Object: obj}
	}
	return release, nil
}
