package kernel

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
)

// allProcessRights are the rights of the process handles the kernel mints:
// a process's own, and a spawned child's.
var allProcessRights = capkind.ProcessRights.All()

// Cap is one right held in a handle table or carried in a message: an
// object, the kind of object it is, and what it allows.
type Cap struct {
	Kind   capkind.Kind
	Rights isleapi.Rights
	// Object is a Target (*Process or *Service), *replySlot, *Spawner,
	// *Revocation, or a service's object, by Kind.
	Object any
	// Rev, for a revocable capability, is checked on every use; a revoked
	// capability (or one made from a revoked one) refuses with ErrRevoked.
	Rev *Revocation
}

// ErrRevoked is returned when a handle's grantor has revoked it.
var ErrRevoked = errors.New("handle revoked")

// Check reports whether the capability still holds and carries need.
func (c *Cap) Check(need isleapi.Rights) error {
	if c.Rev.Revoked() {
		return ErrRevoked
	}
	if c.Rights&need != need {
		return ErrRights
	}
	return nil
}

// Attenuate returns a copy carrying only rights, which must be a subset of
// what c carries: rights never widen.
func (c Cap) Attenuate(rights isleapi.Rights) (Cap, error) {
	if rights&^c.Rights != 0 {
		return Cap{}, ErrRights
	}
	c.Rights = rights
	return c, nil
}

// MaxRevocationDepth bounds how many revocations a forwarder can descend
// through. Every use of a forwarder walks its chain, and the host does that
// walk for free, so a guest that wrapped a forwarder in another without end
// would make every later use, its own or a receiver's, as slow as it liked.
const MaxRevocationDepth = 16

// Revocable returns a revocable forwarder to c with the given rights, and
// the Revocation that kills it. Every copy of the forwarder, wherever it
// travels, shares the Revocation, so revoking it takes all of them at
// once. A forwarder made from a revocable capability dies with either.
// A forwarder already MaxRevocationDepth deep is refused with ErrLimit.
func (c Cap) Revocable(rights isleapi.Rights) (Cap, *Revocation, error) {
	f, err := c.Attenuate(rights)
	if err != nil {
		return Cap{}, nil, err
	}
	depth := uint8(1)
	if c.Rev != nil {
		if c.Rev.depth >= MaxRevocationDepth {
			return Cap{}, nil, fmt.Errorf("%w: a forwarder can be made from at most %d nested forwarders", ErrLimit, MaxRevocationDepth)
		}
		depth = c.Rev.depth + 1
	}
	f.Rev = &Revocation{parent: c.Rev, depth: depth}
	return f, f.Rev, nil
}

// Revocation is the kill switch of revocable capabilities.
type Revocation struct {
	revoked atomic.Bool
	depth   uint8 // revocations in the chain from here up, this one included
	parent  *Revocation

	mu    sync.Mutex // guards hooks
	hooks map[*func()]struct{}
}

// Revoke kills every capability made revocable by r, and runs the hooks
// registered on r (and, through OnRevoke, on its descendants).
//
// Safe from any goroutine.
func (r *Revocation) Revoke() {
	if r.revoked.Swap(true) {
		return
	}
	r.mu.Lock()
	hooks := r.hooks
	r.hooks = nil
	r.mu.Unlock()
	for f := range hooks {
		(*f)()
	}
}

// OnRevoke arranges for f to run once when r or one of the revocations it
// descends from is revoked (at once if that happened already), so that
// copies of the capability on other nodes learn of it. cancel drops f.
// f must not block.
//
// Safe from any goroutine.
func (r *Revocation) OnRevoke(f func()) (cancel func()) {
	if r == nil {
		return func() {}
	}
	var once sync.Once
	run := func() { once.Do(f) }
	key := &run
	var held []*Revocation
	for a := r; a != nil; a = a.parent {
		a.mu.Lock()
		if a.hooks == nil {
			a.hooks = map[*func()]struct{}{}
		}
		a.hooks[key] = struct{}{}
		a.mu.Unlock()
		held = append(held, a)
	}
	if r.Revoked() {
		run()
	}
	return func() {
		for _, a := range held {
			a.mu.Lock()
			delete(a.hooks, key)
			a.mu.Unlock()
		}
	}
}

// Revoked reports whether r or any revocation it descends from was
// revoked. A nil Revocation is never revoked.
func (r *Revocation) Revoked() bool {
	for ; r != nil; r = r.parent {
		if r.revoked.Load() {
			return true
		}
	}
	return false
}

// Release gives up the capability, as closing its handle does.
func (c Cap) Release() { c.release() }

// AddRef counts one more copy of c held on this node: a capability on a
// process of another node (a Remote) is let go of there only once every
// copy is (DropRef, Release). Whoever copies a capability into a handle
// table, a message or an export counts the copy; one moved from a table
// into a message, or from a message into a table, keeps its count.
func (c Cap) AddRef() {
	if r, ok := c.Object.(*Remote); ok {
		r.addRef()
	}
}

// DropRef gives up a copy of c counted by AddRef, without what Release
// does to a reply handle: for a copy that goes away while another holds
// the same right, as a moved handle leaves its table.
func (c Cap) DropRef() {
	if r, ok := c.Object.(*Remote); ok {
		r.dropRef()
	}
}
