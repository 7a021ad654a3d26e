package wasip1

import (
	"context"
	"io"
	"path"
	"strings"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// Host is what the layer needs from the process it serves: the kernel's
// *Process provides it.
type Host interface {
	// Blocking runs f, a wait that may be long; a reactor's worker hands
	// its other work to a spare meanwhile.
	Blocking(f func())
	// KillContext is done once the process is killed.
	KillContext() context.Context
	// CheckKilled ends the current host call if the process was killed.
	CheckKilled()
	// HasMemory reports whether the process's module defines a linear
	// memory: without one, its api.Module's Memory is not a usable nil.
	HasMemory() bool
	// ChargeWork charges the process units of fuel for work a call did in
	// proportion to what it asked (see kernel.Process.ChargeWork), and
	// ChargeBytes for n bytes it moved.
	ChargeWork(units int64)
	ChargeBytes(n int)
	// CheckFuel ends the current host call, as the guest's next fuel check
	// would, if the work charged so far has spent its tree's budget: a
	// call doing much work in one go stops there, not after it all.
	CheckFuel()
	// ChargeHost charges n bytes the host holds for the process to its
	// memory account, failing past its tree's limit or the node's
	// ceiling, and UnchargeHost gives them back. Safe from any goroutine.
	ChargeHost(n int64) error
	UnchargeHost(n int64)
}

// Preopen is a directory given to the process when it starts.
type Preopen struct {
	// FS is the directory: a *capfs.FS, or the /.cap handle file system.
	FS experimentalsys.FS
	// Path is the name the guest sees, such as "/data".
	Path string
}

// Config is what a process is given. The zero Config gives nothing: no
// arguments, environment, directories or stdio, a virtual clock and no
// entropy.
type Config struct {
	// Args is the argument vector, argv[0] included.
	Args []string
	// Env is the environment, as name and value pairs.
	Env [][2]string
	// Preopens are the directories, from fd 3 on in order.
	Preopens []Preopen
	// Stdin is read on a helper goroutine; nil is an empty input.
	Stdin io.Reader
	// Stdout and Stderr are written by a goroutine each (one if they are
	// the same writer); nil discards.
	Stdout io.Writer
	Stderr io.Writer
	// StderrTap, if set, sees every write to stderr as the guest makes it,
	// before it is queued for the host's writer.
	StderrTap func([]byte)
	// Clock is the process's clock.
	Clock Clock
	// Random is the process's entropy; nil makes random_get fail (EIO).
	Random io.Reader
	// MaxFiles bounds the open descriptors; zero means DefaultMaxFiles.
	MaxFiles int
	// Files, if set, is charged for every file or directory the process
	// holds open, on top of MaxFiles: the process tree's and the node's
	// budgets of host descriptors, which guests share.
	Files Files
	// Terminals makes stdin, stdout and stderr report themselves as
	// terminals whatever their streams are: an init snapshot, which has
	// no streams, sees what the processes it stands for would see.
	Terminals [3]bool
}

// DefaultMaxFiles bounds a process's open descriptors: each open file is
// a host descriptor too, and the host has a limit of its own.
const DefaultMaxFiles = 1024

// Files is a budget of host descriptors that a process's open files are
// charged to, shared with other processes.
type Files interface {
	// TakeFile charges one host descriptor. It returns 0, or the errno of
	// the budget that is spent (ErrnoMfile or ErrnoNfile), having charged
	// nothing.
	TakeFile() Errno
	// ReturnFile gives back one descriptor TakeFile charged. Any
	// goroutine may call it: a State is closed from any.
	ReturnFile()
}

// The errnos a Files budget answers with.
const (
	// ErrnoMfile is EMFILE: the process's or its tree's bound.
	ErrnoMfile = errMfile
	// ErrnoNfile is ENFILE: the bound of every guest of the node.
	ErrnoNfile = errNfile
)

// State is one process's WASI state: its descriptor table, stdio and
// clock. Only the process's own goroutine (or the worker running its
// turn) uses it, except Close.
type State struct {
	host     Host
	args     []string
	env      [][2]string
	fds      []*entry // by descriptor number; nil is a free slot
	open     int      // descriptors in use
	maxFiles int
	files    Files // nil: only maxFiles bounds the process
	clock    Clock
	random   io.Reader
	outputs  []*output // distinct stdout/stderr writers, flushed by Close
	closed   bool
}

// kind is what a descriptor is.
type kind uint8

const (
	kindStdin kind = iota
	kindStdout
	kindFile
	kindDir
)

// entry is one open descriptor.
type entry struct {
	kind kind
	in   *input  // kindStdin
	out  *output // kindStdout
	tap  func([]byte)

	// kindFile and kindDir.
	fs      experimentalsys.FS
	name    string               // path within fs ("." for its root)
	file    experimentalsys.File // nil for a directory not yet opened
	charged Files                // what file is charged to, if anything
	preopen string               // guest name of a preopen, "" otherwise
	read    bool                 // opened for reading
	write   bool                 // opened for writing
	flags   uint16               // fdflags
	stream  any                  // a standard stream's host end, for isatty
	term    bool                 // a standard stream that reports a terminal anyway

	base, inheriting uint64 // rights

	// listing is where fd_readdir is in the directory; nil before it.
	listing *listing
}

// New makes a process's WASI state. Descriptors 0, 1 and 2 are stdin,
// stdout and stderr (always present; reading an absent stdin is end of
// file, writing to an absent stdout succeeds and goes nowhere), and the
// preopens follow from 3 in order.
func New(host Host, cfg Config) *State {
	s := &State{host: host, args: cfg.Args, env: cfg.Env, clock: cfg.Clock, random: cfg.Random, maxFiles: cfg.MaxFiles, files: cfg.Files}
	if s.clock == nil {
		s.clock = NewVirtualClock()
	}
	if s.maxFiles <= 0 {
		s.maxFiles = DefaultMaxFiles
	}
	s.fds = make([]*entry, 3, 3+len(cfg.Preopens))
	s.fds[0] = &entry{kind: kindStdin, in: newInput(cfg.Stdin), base: rightsStdin, stream: cfg.Stdin}
	out := s.outputFor(cfg.Stdout)
	s.fds[1] = &entry{kind: kindStdout, out: out, base: rightsStdout, stream: cfg.Stdout}
	errOut := out
	if !sameWriter(cfg.Stdout, cfg.Stderr) {
		errOut = s.outputFor(cfg.Stderr)
	}
	s.fds[2] = &entry{kind: kindStdout, out: errOut, tap: cfg.StderrTap, base: rightsStdout, stream: cfg.Stderr}
	for i, t := range cfg.Terminals {
		s.fds[i].term = t
	}
	s.open = 3
	for _, p := range cfg.Preopens {
		fsys := p.FS
		if c, ok := fsys.(chargeable); ok {
			fsys = c.ChargedTo(s)
		}
		s.fds = append(s.fds, &entry{kind: kindDir, fs: fsys, name: ".", preopen: p.Path,
			read: true, base: rightsDir, inheriting: rightsDirInheriting})
		s.open++
	}
	return s
}

// chargeable is a file system that charges a process for what symlinks
// add to its paths (capfs.FS, and the handle file system of internal/
// services/dirs).
type chargeable interface {
	ChargedTo(c interface{ ChargeLevels(levels int) }) experimentalsys.FS
}

func (s *State) outputFor(w io.Writer) *output {
	if w == nil {
		return nil
	}
	o := newOutput(w)
	s.outputs = append(s.outputs, o)
	return o
}

// Close closes every descriptor and waits until what the guest wrote to
// stdout and stderr has reached the host's writers, or the process is
// killed. It may be called from any goroutine once the guest has stopped.
func (s *State) Close() {
	if s.closed {
		return
	}
	s.closed = true
	for i, e := range s.fds {
		if e != nil {
			e.close()
			s.fds[i] = nil
		}
	}
	for _, o := range s.outputs {
		o.close(s.host.KillContext().Done())
	}
}

// get returns the open descriptor fd, or EBADF.
func (s *State) get(fd uint32) (*entry, Errno) {
	if uint64(fd) >= uint64(len(s.fds)) || s.fds[fd] == nil {
		return nil, errBadf
	}
	return s.fds[fd], 0
}

// take charges one host descriptor to the shared budget before it is
// opened, so that a guest past its bound never makes one: EMFILE at the
// process's or the tree's bound, ENFILE at the node's. A file that
// exists holds its charge until entry.close.
func (s *State) take() Errno {
	if s.files == nil {
		return 0
	}
	return s.files.TakeFile()
}

// untake gives back what take charged, for an open that failed.
//
// Precondition: take returned 0, and no entry holds that charge.
func (s *State) untake() {
	if s.files != nil {
		s.files.ReturnFile()
	}
}

// insert puts e at the lowest free descriptor, as POSIX and wasmtime do.
func (s *State) insert(e *entry) (uint32, Errno) {
	if s.open >= s.maxFiles {
		return 0, errMfile
	}
	s.open++
	for i, old := range s.fds {
		if old == nil {
			s.fds[i] = e
			return uint32(i), 0
		}
	}
	s.fds = append(s.fds, e)
	return uint32(len(s.fds) - 1), 0
}

// remove takes fd out of the table without closing it.
func (s *State) remove(fd uint32) *entry {
	e := s.fds[fd]
	s.fds[fd] = nil
	s.open--
	for len(s.fds) > 0 && s.fds[len(s.fds)-1] == nil {
		s.fds = s.fds[:len(s.fds)-1]
	}
	return e
}

// close releases what the descriptor holds. Standard streams hold
// nothing of their own: their writers are flushed by State.Close.
func (e *entry) close() Errno {
	if l := e.listing; l != nil {
		l.host.UnchargeHost(listingMemory)
		e.listing = nil
	}
	if e.file != nil {
		errno := e.file.Close()
		e.file = nil
		if e.charged != nil {
			e.charged.ReturnFile()
			e.charged = nil
		}
		return fromSys(errno)
	}
	return 0
}

// need checks that the descriptor has every right in r.
func (e *entry) need(r uint64) Errno {
	if e.base&r != r {
		return errNotcapable
	}
	return 0
}

// dirFile returns the open directory e, opening it on first use: a
// preopen is opened only if the guest lists or stats it through its
// descriptor, and is charged (State.take) from then on.
func (s *State) dirFile(e *entry) (experimentalsys.File, Errno) {
	if e.file == nil {
		if errno := s.take(); errno != 0 {
			return nil, errno
		}
		f, errno := e.fs.OpenFile(e.name, experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
		if errno != 0 {
			s.untake()
			return nil, fromSys(errno)
		}
		e.file, e.charged = f, s.files
	}
	return e.file, 0
}

// pathComponentFuel is charged for each directory a path call walks:
// capfs resolves a path from its grant's root one openat at a time (as
// os.Root does, so that no symlink leaves it), 4.3 µs a level on the
// 2-core test machine, where compiled C spends 13 to 20 fuel a
// nanosecond. Before, a call on a path 32,000 levels deep cost the fuel
// of its bytes (found in review).
const pathComponentFuel = 1 << 16

// resolve turns a guest path relative to directory e into a path in e.fs,
// and charges the walk from e.fs's root to it. WASI paths are relative to
// their descriptor and may not leave it: an absolute path, or ".." past
// the descriptor's own directory, is ENOTCAPABLE, as in wasmtime.
// Symlinks are resolved by the file system, which keeps them inside its
// root. A trailing slash is kept: it means the path must name a
// directory.
func (s *State) resolve(e *entry, p string) (string, Errno) {
	if p == "" {
		return "", errNoent
	}
	if p[0] == '/' {
		return "", errNotcapable
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", errIlseq
	}
	depth := 0
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
		case "..":
			if depth == 0 {
				return "", errNotcapable
			}
			depth--
		default:
			depth++
		}
	}
	full := path.Join(e.name, p)
	s.chargeWalk(full, 1)
	if strings.HasSuffix(p, "/") && full != "." {
		full += "/"
	}
	return full, 0
}

// chargeWalk charges walks of path p (in its file system, from the root)
// before they are made, and ends the call if its tree's budget cannot pay
// for them: a walk 32,000 levels deep costs 2G fuel.
func (s *State) chargeWalk(p string, walks int64) {
	s.ChargeLevels(int(walks) * (strings.Count(p, "/") + 1))
}

// ChargeLevels charges levels of path walking, before they are walked,
// and ends the call if the tree's budget cannot pay for them. A file
// system calls it for the levels symlinks add to a path (see
// capfs.FS.ChargedTo); chargeWalk for the levels the guest wrote.
// Precondition: called by the process's owner, in a host call.
func (s *State) ChargeLevels(levels int) {
	s.host.ChargeWork(int64(levels) * pathComponentFuel)
	s.host.CheckFuel()
}

// sameWriter reports whether two writers are the same one, so that stdout
// and stderr given the same writer share one queue and keep their order.
func sameWriter(a, b io.Writer) (same bool) {
	if a == nil || b == nil {
		return false
	}
	defer func() {
		if recover() != nil { // writers of uncomparable types
			same = false
		}
	}()
	return a == b
}
