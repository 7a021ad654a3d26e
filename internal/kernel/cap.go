package kernel

import (
	"errors"
	"sync/atomic"
)

// Kind says what a handle names.
type Kind uint8

// The kinds of capability. Each has its own rights, below.
const (
	KindProcess Kind = iota + 1 // a process: send, monitor, kill
	KindReply                   // a one-shot right to answer one call
	KindSpawner                 // the right to start processes from a set of modules
	KindDir                     // a directory: read, write, create, delete
	KindKV                      // a key-value bucket: get, put, delete, list
	KindClock                   // the host's clocks: monotonic, wall
	KindRandom                  // entropy
	KindLog                     // the node's structured log
	KindHTTP                    // HTTP requests to an allowlist of origins
	KindRevoker                 // the right to revoke a revocable handle
	numKinds
)

var kindNames = [...]string{
	KindProcess: "process", KindReply: "reply", KindSpawner: "spawner", KindDir: "directory",
	KindKV: "key-value", KindClock: "clock", KindRandom: "random", KindLog: "log",
	KindHTTP: "http", KindRevoker: "revoker",
}

// String implements fmt.Stringer.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Rights is a bitmask of what a handle allows. Its meaning depends on the
// handle's kind.
type Rights uint32

// Process rights.
const (
	RightSend        Rights = 1 << iota // send and call
	RightMonitor                        // monitor
	RightKill                           // kill and link (a link can end the peer)
	AllProcessRights = RightSend | RightMonitor | RightKill
)

// Directory rights, the same bits as capfs.Rights.
const (
	RightRead Rights = 1 << iota
	RightWrite
	RightCreate
	RightDelete
	AllDirRights = RightRead | RightWrite | RightCreate | RightDelete
)

// Key-value rights.
const (
	RightGet Rights = 1 << iota
	RightPut
	RightRemove
	RightList
	AllKVRights = RightGet | RightPut | RightRemove | RightList
)

// Clock rights.
const (
	RightMonotonic Rights = 1 << iota
	RightWall
	AllClockRights = RightMonotonic | RightWall
)

// RightUse is the single right of kinds that have one: spawner, random,
// log, http and revoker.
const RightUse Rights = 1

// AllRights returns every right a capability of kind k can carry.
func AllRights(k Kind) Rights {
	switch k {
	case KindProcess:
		return AllProcessRights
	case KindDir:
		return AllDirRights
	case KindKV:
		return AllKVRights
	case KindClock:
		return AllClockRights
	case KindReply:
		return 0
	}
	return RightUse
}

// Cap is one right held in a handle table or carried in a message: an
// object, the kind of object it is, and what it allows.
type Cap struct {
	Kind   Kind
	Rights Rights
	// Object is *Process, *replySlot, *Spawner, or a service's object, by
	// Kind.
	Object any
	// Rev, for a revocable capability, is checked on every use; a revoked
	// capability (or one made from a revoked one) refuses with ErrRevoked.
	Rev *Revocation
}

// ErrRevoked is returned when a handle's grantor has revoked it.
var ErrRevoked = errors.New("handle revoked")

// Check reports whether the capability still holds and carries need.
func (c *Cap) Check(need Rights) error {
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
func (c Cap) Attenuate(rights Rights) (Cap, error) {
	if rights&^c.Rights != 0 {
		return Cap{}, ErrRights
	}
	c.Rights = rights
	return c, nil
}

// Revocable returns a revocable forwarder to c with the given rights, and
// the Revocation that kills it. Every copy of the forwarder, wherever it
// travels, shares the Revocation, so revoking it takes all of them at
// once. A forwarder made from a revocable capability dies with either.
func (c Cap) Revocable(rights Rights) (Cap, *Revocation, error) {
	f, err := c.Attenuate(rights)
	if err != nil {
		return Cap{}, nil, err
	}
	f.Rev = &Revocation{parent: c.Rev}
	return f, f.Rev, nil
}

// Revocation is the kill switch of revocable capabilities.
type Revocation struct {
	revoked atomic.Bool
	parent  *Revocation
}

// Revoke kills every capability made revocable by r.
func (r *Revocation) Revoke() { r.revoked.Store(true) }

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
