package capfs

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/isle-run/isle/api"
)

// A directory capability's rights are api.RightRead, RightWrite,
// RightCreate and RightDelete (see the package doc for what each allows).
const (
	// ReadOnly is a capability that can look but not touch.
	ReadOnly = api.RightRead
	// ReadWrite is a capability with every right.
	ReadWrite = api.RightRead | api.RightWrite | api.RightCreate | api.RightDelete

	mutating = api.RightWrite | api.RightCreate | api.RightDelete
)

// FS is a directory capability: an experimentalsys.FS whose every path
// operation is resolved by an os.Root, so no path, symlink or race can reach
// outside the host directory it was opened on. Mount it with
// wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(fs, guestPath).
//
// An FS may be shared by several guests at once; os.Root is safe for
// concurrent use. The files it opens are not, like wazero's own.
type FS struct {
	// UnimplementedFS answers ENOSYS for methods wazero may add later.
	experimentalsys.UnimplementedFS

	root   *os.Root
	fast   *beneath // what resolves names, shared with views
	rights api.Rights
	charge Charger // pays for the levels a walk adds to a name; may be nil
}

// A Charger pays for path resolution: ChargeLevels is called with the
// number of levels a walk is about to add to the name it was given (a
// symlink's target, a level again for each name a ".." in one walks
// twice), before it walks them. It may end the call by panicking, as a
// WASI host call's fuel check does; the walk releases what it holds.
type Charger = interface{ ChargeLevels(levels int) }

// ChargedTo returns a view of f whose walks charge c, for one process's
// calls: wasip1 charges the levels of the paths a guest writes, and c the
// levels symlinks add to them (on Linux; elsewhere os.Root follows them
// unseen). The view shares f's root as Narrow's does.
func (f *FS) ChargedTo(c Charger) experimentalsys.FS { return f.WithCharger(c) }

// WithCharger is ChargedTo, typed.
func (f *FS) WithCharger(c Charger) *FS {
	v := *f
	v.charge = c
	return &v
}

var _ experimentalsys.FS = (*FS)(nil)

// Open opens hostDir as a capability with the given rights. It fails if
// hostDir is missing or is not a directory, or if rights is empty or has
// unknown bits.
func Open(hostDir string, rights api.Rights) (*FS, error) {
	if rights == 0 || rights&^ReadWrite != 0 {
		return nil, fmt.Errorf("capfs: directory %q: invalid rights %#x", hostDir, uint32(rights))
	}
	// Stat first so the usual mistakes get a plain message.
	fi, err := os.Stat(hostDir)
	if err != nil {
		return nil, fmt.Errorf("capfs: directory %q: %w", hostDir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("capfs: %q is not a directory", hostDir)
	}
	root, err := os.OpenRoot(hostDir)
	if err != nil {
		return nil, fmt.Errorf("capfs: directory %q: %w", hostDir, err)
	}
	// wazero opens the mount root lazily and panics if it cannot, so find
	// out now (an unreadable directory, say).
	d, err := root.Open(".")
	if err != nil {
		_ = root.Close()
		return nil, fmt.Errorf("capfs: directory %q: %w", hostDir, err)
	}
	_ = d.Close()
	learnEscape(root)
	return &FS{root: root, fast: &beneath{}, rights: rights}, nil
}

// Close releases the directory. Files already opened stay usable; path
// operations afterwards fail with EBADF. Close only once no guest uses the
// FS: wazero panics if it cannot open a mount's root.
func (f *FS) Close() error {
	f.fast.close()
	if err := f.root.Close(); err != nil {
		return fmt.Errorf("capfs: close %q: %w", f.root.Name(), err)
	}
	return nil
}

// Narrow returns a view of the same directory with fewer rights, for an
// attenuated handle. The view shares f's root: it needs no Close of its
// own, and stops working when f is closed. Rights never widen.
func (f *FS) Narrow(rights api.Rights) (*FS, error) {
	if rights == 0 || rights&^f.rights != 0 {
		return nil, fmt.Errorf("capfs: cannot narrow %v to %v", f.rights, rights)
	}
	return &FS{root: f.root, fast: f.fast, rights: rights, charge: f.charge}, nil
}

// String names the host directory, for diagnostics.
func (f *FS) String() string { return f.root.Name() }

// Rights returns what this capability allows.
func (f *FS) Rights() api.Rights { return f.rights }

func (f *FS) has(r api.Rights) bool { return f.rights&r == r }

// deny is the errno for a missing mutating right: EROFS when the capability
// can change nothing at all (it looks like a read-only mount), EACCES when it
// has some mutating rights but not this one (it looks like a directory
// without write permission). EPERM stays reserved for escapes.
func (f *FS) deny() experimentalsys.Errno {
	if f.rights&mutating == 0 {
		return experimentalsys.EROFS
	}
	return experimentalsys.EACCES
}

// rel turns a path from wazero into one for os.Root. wazero hands paths
// relative to the mount, but joins "/" + name for descriptors opened on the
// mount root, so leading slashes mean the capability's root, never the
// host's. ".." and symlinks are left for os.Root to resolve and contain.
func rel(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return "."
	}
	return p
}

// OpenFile implements experimentalsys.FS.
func (f *FS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	name := rel(p)
	access := flag & accessMask
	if access == accessMask {
		return nil, experimentalsys.EINVAL // O_RDWR|O_WRONLY
	}
	writes := access != experimentalsys.O_RDONLY || flag&experimentalsys.O_TRUNC != 0
	reads := access != experimentalsys.O_WRONLY
	if writes && !f.has(api.RightWrite) {
		return nil, f.deny()
	}
	// Without api.RightRead only directories may be opened for reading (wazero
	// needs them to resolve paths), and that is checked after the open.
	// These flags rule a directory out, and would act before that check.
	if reads && !f.has(api.RightRead) && (access == experimentalsys.O_RDWR || flag&(experimentalsys.O_TRUNC|experimentalsys.O_CREAT) != 0) {
		return nil, experimentalsys.EACCES
	}
	createDenied := false
	if flag&experimentalsys.O_CREAT != 0 && !f.has(api.RightCreate) {
		if flag&experimentalsys.O_EXCL != 0 {
			return nil, f.deny()
		}
		// Without O_CREAT the open can never create, whatever races with
		// it; a missing file is then reported as the refusal it is.
		flag &^= experimentalsys.O_CREAT
		createDenied = true
	}
	file, errno := f.openAt(name, flag, perm&fs.ModePerm)
	if errno != 0 {
		if errno == experimentalsys.ENOENT && createDenied && f.parentExists(name) {
			errno = f.deny()
		}
		return nil, errno
	}
	st, err := file.Stat()
	if err != nil {
		_ = file.Close()
		return nil, toErrno(err)
	}
	if errno := f.checkOpened(flag, st, reads); errno != 0 {
		_ = file.Close()
		return nil, errno
	}
	return newFile(f, file, st, flag, reads, writes), 0
}

// accessMask selects O_RDONLY (zero), O_RDWR or O_WRONLY.
const accessMask = experimentalsys.O_RDWR | experimentalsys.O_WRONLY

// accessFlag is the host access mode for flag.
func accessFlag(flag experimentalsys.Oflag) int {
	switch flag & accessMask {
	case experimentalsys.O_RDWR:
		return os.O_RDWR
	case experimentalsys.O_WRONLY:
		return os.O_WRONLY
	}
	return os.O_RDONLY
}

// checkOpened vets what was actually opened, closing the races between
// the checks before the open and the open itself.
func (f *FS) checkOpened(flag experimentalsys.Oflag, st fs.FileInfo, reads bool) experimentalsys.Errno {
	if flag&experimentalsys.O_DIRECTORY != 0 && !st.IsDir() {
		return experimentalsys.ENOTDIR
	}
	if reads && !st.IsDir() && !f.has(api.RightRead) {
		return experimentalsys.EACCES
	}
	if special(st.Mode()) {
		return experimentalsys.EACCES
	}
	return 0
}

// special reports device nodes and named pipes. os.Root does not stop
// devices (its doc says so), and a capability is about files. Opening a
// FIFO blocks the calling goroutine in the kernel until a peer shows up,
// where no guest timeout can reach it; the guest cannot make FIFOs, but the
// host tree may hold one.
func special(m fs.FileMode) bool {
	return m&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe) != 0
}

// parentExists tells a missing file from a missing directory, so a refused
// create reports the refusal only when it would otherwise have succeeded.
func (f *FS) parentExists(name string) bool {
	st, errno := f.statAt(path.Dir(strings.TrimRight(name, "/")), true)
	return errno == 0 && st.Mode.IsDir()
}

// Lstat implements experimentalsys.FS.
func (f *FS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	return f.statAt(rel(p), false)
}

// Stat implements experimentalsys.FS. A symlink that leads out of the
// capability fails with EPERM.
func (f *FS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	return f.statAt(rel(p), true)
}

// Mkdir implements experimentalsys.FS.
func (f *FS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	if !f.has(api.RightCreate) {
		return f.deny()
	}
	return f.mkdirAt(rel(p), perm)
}

// Chmod implements experimentalsys.FS. Only permission bits are kept, so a
// guest cannot make setuid or setgid files on the host.
func (f *FS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	if !f.has(api.RightWrite) {
		return f.deny()
	}
	return f.chmodAt(rel(p), perm)
}

// Rename implements experimentalsys.FS. Both names are resolved in the
// root, so nothing can be moved in or out of the capability.
func (f *FS) Rename(from, to string) experimentalsys.Errno {
	if !f.has(api.RightCreate | api.RightDelete) {
		return f.deny()
	}
	return f.renameAt(rel(from), rel(to))
}

// Rmdir implements experimentalsys.FS.
func (f *FS) Rmdir(p string) experimentalsys.Errno {
	if !f.has(api.RightDelete) {
		return f.deny()
	}
	return f.removeAt(rel(p), true)
}

// Unlink implements experimentalsys.FS.
func (f *FS) Unlink(p string) experimentalsys.Errno {
	if !f.has(api.RightDelete) {
		return f.deny()
	}
	return f.removeAt(rel(p), false)
}

// Link implements experimentalsys.FS. Both names are resolved in the root,
// so a file outside can never gain a name inside (or the reverse).
func (f *FS) Link(oldPath, newPath string) experimentalsys.Errno {
	if !f.has(api.RightCreate) {
		return f.deny()
	}
	return f.linkAt(rel(oldPath), rel(newPath))
}

// Symlink implements experimentalsys.FS. The root would refuse to follow
// a link out of it anyway; refusing to create one (EPERM) keeps such
// links from misleading the host or other tools that later walk the tree.
func (f *FS) Symlink(target, linkName string) experimentalsys.Errno {
	if !f.has(api.RightCreate) {
		return f.deny()
	}
	if mayLeave(target) {
		return experimentalsys.EPERM
	}
	return f.symlinkAt(target, rel(linkName))
}

// mayLeave reports whether a symlink with this target could lead a host
// program that follows it out of the tree. Only a target that is relative
// and goes down by plain names is safe whatever else changes: one with ".."
// anywhere can be turned outward by a symlink among its components
// ("sub/up/.." with sub/up -> ..) or by renaming the directory that holds
// it to a shallower place. A link of plain names starts in a real
// directory inside the tree and only goes down, and every link it passes
// through obeys the same rule. The root is what contains the guest
// itself; this keeps its links from misleading the host.
func mayLeave(target string) bool {
	if target == "" || path.IsAbs(target) || filepath.IsAbs(target) || filepath.VolumeName(target) != "" {
		return true // absolute, as the guest or the host reads it
	}
	for _, c := range strings.Split(filepath.ToSlash(target), "/") { // the host's separators too, e.g. `..\..`
		if c == ".." {
			return true
		}
	}
	return false
}

// Readlink implements experimentalsys.FS. The link text is returned as is,
// even when it points outside: reading it is harmless, following is not.
func (f *FS) Readlink(p string) (string, experimentalsys.Errno) {
	if !f.has(api.RightRead) {
		return "", experimentalsys.EACCES
	}
	return f.readlinkAt(rel(p))
}

// Utimens implements experimentalsys.FS, following symlinks inside the
// root. wazero has already turned "now" into a timestamp from the guest's
// own clock, so only UTIME_OMIT needs handling here.
func (f *FS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	if !f.has(api.RightWrite) {
		return f.deny()
	}
	return f.utimensAt(rel(p), atim, mtim, true)
}

// Lutimens sets the times of the named entry itself, without following a
// final symlink (utimensat with AT_SYMLINK_NOFOLLOW).
func (f *FS) Lutimens(p string, atim, mtim int64) experimentalsys.Errno {
	if !f.has(api.RightWrite) {
		return f.deny()
	}
	return f.utimensAt(rel(p), atim, mtim, false)
}
