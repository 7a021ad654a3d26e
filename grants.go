package isle

import (
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strings"
	"time"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capfs"
	"github.com/isle-run/isle/internal/kernel"
)

// Grants is everything a process may reach. Nothing is granted by
// default: each field left zero withholds that authority.
type Grants struct {
	// Args is the argument vector, including argv[0].
	Args []string
	// Env holds "NAME=VALUE" entries, in order. Nothing from the host's
	// environment reaches the guest unless it is listed here.
	Env []string
	// Dirs are the directories the guest may open. Each is confined to its
	// host directory: "..", absolute paths and symlinks cannot leave it.
	Dirs []Dir
	// Stdin, Stdout and Stderr are the guest's standard streams. Nil
	// means empty input and discarded output. A writer shared by several
	// processes (children spawned with ISLE_SPAWN_STDIO share their
	// parent's) must be safe for concurrent use, as an *os.File is.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Clock grants the host's real wall and monotonic clocks. Without it
	// the guest sees a virtual clock that starts at 2000-01-01 and advances
	// only as the guest reads it or sleeps, revealing nothing of the host.
	Clock bool
	// Random is the guest's entropy, read by WASI random_get. Nil means no
	// entropy: random_get fails. See SystemRandom and SeededRandom.
	Random io.Reader
	// Spawn lists the modules the process may start processes from, by
	// the name it passes to spawn. The process finds the right under the
	// grant name "spawner"; its children get the same spawner.
	Spawn map[string]*Module
	// Processes are handles to other processes the new one starts with, by
	// grant name. Each carries the send and monitor rights, not kill.
	Processes map[string]*Process
	// Caps are capabilities the process starts with, by the name it looks
	// them up with (grant). See KVCap, DirCap, ClockCap, LogCap, HTTPCap,
	// RandomCap, ProcessCap and SpawnerCap.
	Caps map[string]Capability
	// Init, if set, is the process's first message (tag ISLE_TAG_INIT),
	// as a spawning process would send it. isle run passes a reactor its
	// arguments this way, NUL-separated.
	Init []byte
}

// Dir grants a host directory to the guest.
type Dir struct {
	// Host is the directory on the host.
	Host string
	// Guest is where the guest sees it, such as "/data". Empty means "/".
	Guest string
	// ReadOnly refuses every change: create, write, truncate, rename,
	// unlink, mkdir, chmod and utimes fail with EROFS.
	ReadOnly bool
	// Rights, when not zero, grants exactly these directory rights
	// (api.RightRead, RightWrite, RightCreate, RightDelete) instead.
	Rights api.Rights
}

// Limits bound what a process and every process it spawns, and they in
// turn, may consume together, as a cgroup bounds a tree of OS processes:
// children draw from their ancestors' budgets and never get fresh ones.
// When the process is killed (by Kill, its timeout or its context) or
// spends the budget, the whole tree ends. The zero value is unlimited
// except by the node's memory ceiling (Config.MaxMemory), process quota
// (Config.SpawnQuota) and descriptor bound for a tree (Config.TreeFiles).
type Limits struct {
	// Memory caps, in bytes, everything the node holds for the tree: its
	// linear memories, tables, call stacks, queued messages, host-side
	// buffers and a fixed share for each process's kernel state (see
	// Stats). A memory.grow or table.grow past it fails, as the wasm
	// specification allows; a spawn past it fails with a recoverable
	// error; a call stack that cannot grow abandons the process with
	// api.CauseStackExhausted.
	Memory uint64
	// Fuel is the tree's total instruction budget; a process that finds it
	// spent is abandoned with api.CauseFuelExhausted.
	Fuel int64
	// Timeout kills the tree with reason "timeout" once this long has
	// passed since the spawn.
	Timeout time.Duration
	// Processes bounds the live processes of the tree, this one included
	// (default Config.SpawnQuota).
	Processes int
	// Files bounds the host descriptors the tree holds open: its files
	// and directories, and its HTTP requests in flight (default
	// Config.TreeFiles). Past it, an open fails with EMFILE and an HTTP
	// request with a limit error. Each process also holds at most 1,024
	// files.
	Files int
	// Mailbox bounds how many messages may wait for the process (default
	// 1,024). A blocking send to a full mailbox waits; a non-blocking one
	// fails.
	Mailbox int
	// NoImage makes a reactor with an _initialize function (every Go
	// reactor) run it in this process, and the processes it spawns run
	// theirs, instead of starting from a copy-on-write image of a
	// snapshot taken after it (README, "Images"). Clones of an image share
	// the state the snapshot's init left, including any pseudo-random
	// seed it drew, such as the Go runtime's.
	NoImage bool
}

// SystemRandom returns the host's cryptographic entropy source.
func SystemRandom() io.Reader { return rand.Reader }

// SeededRandom returns a deterministic stream (ChaCha8) from seed, for
// reproducible runs. A process granted it never starts from an image,
// whose snapshot would have drawn from the system's entropy instead.
func SeededRandom(seed uint64) io.Reader {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return seeded{mrand.NewChaCha8(s)}
}

// seeded marks a SeededRandom stream.
type seeded struct{ *mrand.ChaCha8 }

// spec turns grants and limits into the kernel's form, opening each
// directory and capability; the returned function releases them.
func (g Grants) spec(n *Node, l Limits) (kernel.Spec, func(), error) {
	s := kernel.Spec{
		Args: g.Args, Stdin: g.Stdin, Stdout: g.Stdout, Stderr: g.Stderr,
		RealClock: g.Clock, Random: g.Random,
		MemoryLimit: l.Memory, Fuel: l.Fuel, Timeout: l.Timeout, Mailbox: l.Mailbox, Processes: int64(l.Processes),
		Files:   int64(l.Files),
		NoImage: l.NoImage,
	}
	if _, ok := g.Random.(seeded); ok {
		s.NoImage = true
	}
	if g.Init != nil {
		s.Init = kernel.NewMessage(kernel.TagInit, g.Init)
	}
	// Spawn and Processes are shorthands for capabilities granted by name.
	caps := make(map[string]Capability, len(g.Caps)+len(g.Processes)+1)
	add := func(name string, c Capability) error {
		if _, dup := caps[name]; dup {
			return fmt.Errorf("grant name %q is used twice", name)
		}
		caps[name] = c
		return nil
	}
	if len(g.Spawn) > 0 {
		caps["spawner"] = SpawnerCap(g.Spawn)
	}
	for name, p := range g.Processes {
		if err := add(name, ProcessCap(p, api.RightSend|api.RightMonitor)); err != nil {
			return kernel.Spec{}, nil, err
		}
	}
	for name, c := range g.Caps {
		if err := add(name, c); err != nil {
			return kernel.Spec{}, nil, err
		}
	}
	for _, kv := range g.Env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return kernel.Spec{}, nil, fmt.Errorf("environment entry %q is not NAME=VALUE", kv)
		}
		s.Env = append(s.Env, [2]string{name, value})
	}
	if len(caps) == 0 && len(g.Dirs) == 0 {
		return s, nil, nil // nothing to open, nothing to release
	}
	s.Grants = make(map[string]kernel.Cap, len(caps))
	capsRelease, err := n.resolve(caps, s.Grants)
	if err != nil {
		return kernel.Spec{}, nil, err
	}
	var opened []*capfs.FS
	closeAll := func() {
		capsRelease()
		for _, fs := range opened {
			_ = fs.Close()
		}
	}
	for _, d := range g.Dirs {
		rights := capfs.ReadWrite
		switch {
		case d.Rights != 0:
			rights = d.Rights
		case d.ReadOnly:
			rights = capfs.ReadOnly
		}
		fs, err := capfs.Open(d.Host, rights)
		if err != nil {
			closeAll()
			return kernel.Spec{}, nil, err
		}
		opened = append(opened, fs)
		guest := d.Guest
		if guest == "" {
			guest = "/"
		}
		s.Mounts = append(s.Mounts, kernel.Mount{FS: fs, GuestPath: guest})
	}
	return s, closeAll, nil
}
