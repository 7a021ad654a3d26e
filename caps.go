package isle

import (
	"fmt"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
	"github.com/isle-run/isle/internal/services/dirs"
)

// Capability is a right the host can grant a process under a name, in
// Grants.Caps. The process finds it with grant(name) and uses it through
// the isle ABI. Build one with the functions below; each takes the rights
// the process gets, and a process can narrow them further but never widen
// them.
type Capability struct {
	kind   capkind.Kind
	rights api.Rights
	// spec is what the kind's descriptor opens on the node when a process
	// is granted the capability: a bucket's name, a directory's path, the
	// process a handle names.
	spec any
	// rev, for a handle to a remote target, is its Remote's revocation:
	// the owner revoking the export refuses it here too.
	rev *kernel.Revocation
}

func init() {
	// The CLI grants what a manifest lists through this, with one code
	// path for every kind (see capkind.NewCapability).
	capkind.NewCapability = func(k capkind.Kind, rights api.Rights, spec any) any {
		return Capability{kind: k, rights: rights, spec: spec}
	}
}

// ProcessCap grants a handle to another process.
func ProcessCap(p *Process, rights api.Rights) Capability {
	c := Capability{kind: capkind.Process, rights: rights}
	if p != nil {
		c.spec = p.p
	}
	return c
}

// DirCap grants a host directory as a handle, usable with the directory
// functions of the ABI and, through the SDKs, as a path. Confinement is the
// same as Grants.Dirs.
func DirCap(host string, rights api.Rights) Capability {
	return Capability{kind: dirs.Kind, rights: rights, spec: dirs.Spec{Path: host}}
}

// SpawnerCap grants the right to start processes from these modules, by
// the names given.
func SpawnerCap(modules map[string]*Module) Capability {
	sp := &kernel.Spawner{Modules: map[string]*kernel.Module{}}
	for name, m := range modules {
		sp.Modules[name] = m.m
	}
	return Capability{kind: capkind.Spawner, rights: api.RightUse, spec: sp}
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
		obj, r, err := n.open(c)
		if err != nil {
			release()
			return nil, fmt.Errorf("grant %q: %w", name, err)
		}
		if r != nil {
			releases = append(releases, r)
		}
		into[name] = kernel.Cap{Kind: c.kind, Rights: c.rights, Object: obj, Rev: c.rev}
	}
	return release, nil
}

// open makes the object behind c with its kind's descriptor.
func (n *Node) open(c Capability) (any, func(), error) {
	if c.kind == 0 {
		return nil, nil, fmt.Errorf("the zero Capability grants nothing; build one with a constructor such as isle.KVCap or isle.DirCap")
	}
	d := capkind.Lookup(c.kind)
	if d == nil || d.Open == nil {
		return nil, nil, fmt.Errorf("a %s capability cannot be granted", c.kind)
	}
	if extra := c.rights &^ d.Rights.All(); extra != 0 {
		return nil, nil, fmt.Errorf("rights %#x do not exist for a %s capability", uint32(extra), d.Name)
	}
	return d.Open(n.env, c.spec, c.rights)
}
