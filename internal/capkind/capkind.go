// Package capkind declares each kind of capability once. A Descriptor
// holds everything about a kind: its number in the ABI, its name, its
// rights and their names, the keys a manifest gives it and how they are
// checked, how a grant of it is opened on a node, and the host functions
// that take its handles. The kernel, the manifest reader, the CLI (`isle
// caps` included) and the tests that keep the docs and SDKs honest all
// read the registry here; nothing else spells a kind.
//
// A kind lives in one package, which registers its Descriptor from an init
// function: the kernel's own kinds (process, reply, spawner, revoker) in
// internal/abi, every other in its service's package under
// internal/services. Importing internal/services links them all.
//
// The registry is written only by init functions, before any goroutine
// reads it, so it needs no lock.
package capkind

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/isle-run/isle/api"
)

// Kind says what a handle names. Its value is part of the ABI: inspect
// reports it, and the SDKs name each value.
type Kind uint8

// The kernel's own kinds, which the kernel makes and checks itself. The
// other kinds are declared by their packages (dirs.Kind, kv.Kind...).
const (
	Process Kind = 1  // a process, or a service that stands for one
	Reply   Kind = 2  // a one-shot right to answer one call
	Spawner Kind = 3  // the right to start processes from a set of modules
	Revoker Kind = 10 // the right to revoke a revocable forwarder
)

// String returns the kind's name, or "kind N" for a kind not registered.
func (k Kind) String() string {
	if d := Lookup(k); d != nil {
		return d.Name
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

// Right is one bit of a kind's rights mask, with the name manifests and
// the docs use for it.
type Right struct {
	Name string
	Bit  api.Rights
	Doc  string // what the right allows, for the docs
}

// RightSet is a kind's rights, in bit order.
type RightSet []Right

// All is every right in the set.
func (s RightSet) All() api.Rights {
	var all api.Rights
	for _, r := range s {
		all |= r.Bit
	}
	return all
}

// Use is the rights of a kind with only one: holding the handle is the
// right.
var Use = RightSet{{Name: "use", Bit: api.RightUse, Doc: "every operation of the kind"}}

// ProcessRights are a process handle's rights. They are declared here,
// not with the process kind in internal/abi, because the kernel mints
// process handles itself (a process's own handle, a spawned child's).
var ProcessRights = RightSet{
	{Name: "send", Bit: api.RightSend, Doc: "send and call"},
	{Name: "monitor", Bit: api.RightMonitor, Doc: "monitor"},
	{Name: "kill", Bit: api.RightKill, Doc: "kill, and link (a link can end the peer)"},
}

// Descriptor is everything about one kind of capability.
type Descriptor struct {
	Kind Kind
	// Name is the kind's one spelling: in manifests (kind = "kv"),
	// errors, `isle caps` and the docs.
	Name string
	// Summary says what a handle of the kind names, as a noun phrase:
	// "a key-value bucket".
	Summary string
	// Rights are the kind's rights; Use for a kind with one, none for a
	// kind whose handles carry no rights (a reply).
	Rights RightSet

	// Fields are the keys a manifest's [caps.NAME] table takes besides
	// kind and rights.
	Fields []Field
	// Parse turns a manifest's [caps.NAME] table, whose keys ParseTable
	// has checked against Fields, into the spec Open takes. Nil means a
	// manifest cannot grant the kind; NoSpec suits a kind with no fields.
	Parse func(t *Table) (spec any, err error)
	// Open makes the object behind a grant of the kind: what handles of
	// it name. release, if not nil, undoes it when the process ends. Nil
	// means the kind cannot be granted, only made by the kernel.
	Open func(env *Env, spec any, rights api.Rights) (obj any, release func(), err error)

	// Funcs are the host functions that take a handle of this kind.
	Funcs []Func
	// Hint tells a reader of `isle caps` how a process gets one.
	Hint string
}

// NoSpec is the Parse of a kind a manifest grants with no fields.
func NoSpec(*Table) (any, error) { return nil, nil }

// Granted reports whether a manifest can grant the kind.
func (d *Descriptor) Granted() bool { return d.Parse != nil }

// registry holds the descriptors, by kind and by name.
type registry struct {
	byKind map[Kind]*Descriptor
	byName map[string]*Descriptor
	funcs  map[string]*Descriptor // host function name -> its kind, to refuse a second claim
}

func newRegistry() *registry {
	return &registry{byKind: map[Kind]*Descriptor{}, byName: map[string]*Descriptor{}, funcs: map[string]*Descriptor{}}
}

// kinds is the registry every package fills from its init function.
var kinds = newRegistry()

// Register adds a kind. It panics if the descriptor is malformed or its
// kind, name, a right or a function is taken: two packages claiming one
// kind is a bug that must not reach a guest. Call it from init only.
func Register(d *Descriptor) { kinds.register(d) }

func (r *registry) register(d *Descriptor) {
	if err := r.check(d); err != nil {
		panic("capkind: " + err.Error())
	}
	r.byKind[d.Kind], r.byName[d.Name] = d, d
	for _, f := range d.Funcs {
		r.funcs[f.Name] = d
	}
}

// check refuses a descriptor that would make the registry ambiguous.
func (r *registry) check(d *Descriptor) error {
	switch {
	case d.Kind == 0:
		return fmt.Errorf("kind %q has number 0, which is never a kind", d.Name)
	case d.Name == "" || strings.ToLower(d.Name) != d.Name || strings.ContainsAny(d.Name, " ."):
		return fmt.Errorf("kind %d has name %q; want a short lower-case word", d.Kind, d.Name)
	case r.byKind[d.Kind] != nil:
		return fmt.Errorf("kind %d is both %q and %q", d.Kind, r.byKind[d.Kind].Name, d.Name)
	case r.byName[d.Name] != nil:
		return fmt.Errorf("the name %q is both kind %d and kind %d", d.Name, r.byName[d.Name].Kind, d.Kind)
	}
	var seen api.Rights
	names := map[string]bool{}
	for _, right := range d.Rights {
		if right.Bit == 0 || right.Bit&(right.Bit-1) != 0 || seen&right.Bit != 0 || names[right.Name] || right.Name == "" {
			return fmt.Errorf("kind %q: right %q (%#x) is not a new single bit with a new name", d.Name, right.Name, uint32(right.Bit))
		}
		seen |= right.Bit
		names[right.Name] = true
	}
	for _, f := range d.Funcs {
		if other := r.funcs[f.Name]; other != nil {
			return fmt.Errorf("host function %s belongs to both %q and %q", f.Name, other.Name, d.Name)
		}
	}
	keys := map[string]bool{"kind": true, "rights": true}
	for _, f := range d.Fields {
		if keys[f.Key] {
			return fmt.Errorf("kind %q: manifest key %q is declared twice", d.Name, f.Key)
		}
		keys[f.Key] = true
	}
	if len(d.Fields) > 0 && d.Parse == nil {
		return fmt.Errorf("kind %q has manifest keys but no Parse", d.Name)
	}
	if d.Parse != nil && (len(d.Rights) == 0 || d.Open == nil) {
		return fmt.Errorf("kind %q is granted by manifests but has no rights or no Open", d.Name)
	}
	return nil
}

// Lookup returns the descriptor of kind k, or nil.
func Lookup(k Kind) *Descriptor { return kinds.byKind[k] }

// ByName returns the descriptor of the kind called name, or nil.
func ByName(name string) *Descriptor { return kinds.byName[name] }

// All returns every registered kind, by number.
func All() []*Descriptor { return kinds.all() }

func (r *registry) all() []*Descriptor {
	out := make([]*Descriptor, 0, len(r.byKind))
	for _, d := range r.byKind {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// GrantedNames lists the names of the kinds a manifest can grant, by
// number, for error messages.
func GrantedNames() string {
	var names []string
	for _, d := range All() {
		if d.Granted() {
			names = append(names, d.Name)
		}
	}
	return strings.Join(names, ", ")
}

// Closer returns a release function, as Open returns, that closes c. A
// close that fails has nothing left to tell: the process has ended.
func Closer(c io.Closer) func() { return func() { _ = c.Close() } }
