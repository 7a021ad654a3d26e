package kernel

import (
	"io"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// Mount places a directory capability in the guest's file system.
type Mount struct {
	FS        experimentalsys.FS
	GuestPath string
}

// Spec is everything a process is granted and limited to. The zero Spec
// grants nothing: no arguments, environment, files or stdio, a virtual
// clock that reveals nothing about the host, and no entropy.
type Spec struct {
	Args   []string
	Env    [][2]string
	Mounts []Mount
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// RealClock grants the host's wall and monotonic clocks. Without it the
	// process sees a virtual clock (see wasip1.NewVirtualClock).
	RealClock bool
	// Random is the process's entropy. Nil means random_get fails.
	Random io.Reader
	// Grants are named capabilities the process can look up with grant().
	Grants map[string]Cap
	// MemoryLimit caps, in bytes, everything the node holds for the
	// process and every process it spawns, together (see Group); zero
	// means no limit but the node's ceiling. It also caps each linear
	// memory.
	MemoryLimit uint64
	// Fuel is the budget of the process and its descendants together;
	// zero means unlimited.
	Fuel int64
	// Timeout kills the process and its descendants after this long; zero
	// means never.
	Timeout time.Duration
	// Processes bounds the live processes of the tree, this one included;
	// zero means the kernel's SpawnQuota.
	Processes int64
	// Files bounds the host descriptors the tree holds open; zero means
	// the kernel's TreeFiles.
	Files int64
	// Mailbox bounds the mailbox; zero means DefaultMailbox.
	Mailbox int
	// OnExit, if set, runs once the process has ended, before Wait
	// returns; not if the spawn fails, as what it releases is then still
	// the spawner's.
	OnExit func()
	// Init, if set, is queued as the process's first message.
	Init *Message
	// Service, if set, is the service this process is the new instance
	// of: messages waiting in it are queued for the process before it
	// runs, and those it never takes go back to the service when it ends.
	Service *Service
	// NoImage runs the module's _initialize in this process even when an
	// image of its initialised state could start it (see image.go).
	NoImage bool
}

// extras is what only some processes have, behind one pointer that most
// processes leave nil, so that the Process keeps to its size class
// (TestProcessFitsItsSizeClass): what it keeps of its Spec once it runs,
// and what Go guests, images and snapshots need. It is made before the
// process is registered, and never replaced; only goAbort is set after,
// before the process first runs, and tools never read it.
type extras struct {
	// What it keeps of its Spec.
	service        *Service
	onExit         func()
	stdout, stderr io.Writer // passed on to children spawned with stdio

	goAbort *goAbortDetector // Go guests: what the runtime wrote as it died
	image   *image           // what the process started from, if an image
	snap    *snapshotState   // set while the process is an image's snapshot
}

// extrasOf returns the extras a process of m made from spec starts with,
// or nil if it needs none yet (useImage adds them for an image).
func extrasOf(spec *Spec, m *Module) *extras {
	if spec.Service == nil && spec.OnExit == nil && spec.Stdout == nil && spec.Stderr == nil && !m.isGo {
		return nil
	}
	return &extras{service: spec.Service, onExit: spec.OnExit, stdout: spec.Stdout, stderr: spec.Stderr}
}

// extras returns p's extras, making them if it has none.
// Precondition: p is not registered yet.
func (p *Process) extras() *extras {
	if p.extra == nil {
		p.extra = &extras{}
	}
	return p.extra
}

// startImage is the image p started from, or nil.
func (p *Process) startImage() *image {
	if x := p.extra; x != nil {
		return x.image
	}
	return nil
}

// goAbort is p's Go abort detector, or nil if p is not a Go guest.
func (p *Process) goAbort() *goAbortDetector {
	if x := p.extra; x != nil {
		return x.goAbort
	}
	return nil
}
