//go:build linux

package capfs

import (
	"errors"
	"path"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// On Linux capfs resolves every name itself, as os.Root does elsewhere,
// so that it can charge each level it walks: a symlink's target is
// charged a level for each of its components before they are walked, and a
// ".." met in one a level for each name walked again from the root. A
// path the guest wrote is charged by its caller before the call (see
// FS.ChargedTo), so a stat through eight links of 4 KiB each pays for the
// 16,000 levels it walks, and ends when its budget does, not after.
//
// A plain path (no "..") is first handed to the kernel in one openat2
// beneath the root that refuses any symlink; only a path that meets one
// is walked here a level at a time (walk).
//
// Locking: beneath.mu guards only the opening and closing of the root
// directory, and is never held during a walk. A walk is one goroutine's:
// the descriptors it holds are its own, and the root's stays open while
// it runs (os.File's RawConn.Control holds a reference to it).

// maxLinks is how many symlinks one name may pass through, as Linux's
// own limit: past it the call fails with ELOOP.
const maxLinks = 40

// openBeneath opens the directory p beneath dir, as the kernel resolves
// a plain path: never out of dir, through no symlink and no /proc magic
// link (openat2, for O_PATH).
func openBeneath(dir int, p string) (int, error) {
	return unix.Openat2(dir, p, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// errFollow is what an op returns when its last name is a symlink it
// must follow: the walk reads the link and goes on to its target.
var errFollow = errors.New("capfs: follow the symlink")

// op acts on base, a single name, in the directory dir.
type op func(dir int, base string) error

// at resolves name beneath the root and runs fn on the directory that
// holds its last name. A name ending in "/" must be a directory: a
// symlink there is followed first. at never follows a symlink out of
// the root: that is EPERM, as an absolute link or a ".." above the root.
func (f *FS) at(name string, fn op) error { return f.resolve(name, false, fn) }

// atSlash is at for an operation that never follows its last name
// (mkdir, unlink, rmdir, rename, symlink, the new name of a link): a
// last name with a trailing slash goes to fn with its slash, and the
// kernel answers as it does for such names, following no symlink there
// (mkdir "d/" makes d, symlink "l/" is ENOENT, rmdir "link/" ENOTDIR).
func (f *FS) atSlash(name string, fn op) error { return f.resolve(name, true, fn) }

// resolve is at, or atSlash if slashes.
func (f *FS) resolve(name string, slashes bool, fn op) error {
	d, err := f.fast.root(f.root)
	if err != nil {
		return err
	}
	if cerr := control(d, func(rootfd int) error {
		err = f.atRoot(rootfd, name, slashes, fn)
		return nil
	}); cerr != 0 {
		return cerr
	}
	return err
}

// atRoot is resolve, given the root's descriptor.
func (f *FS) atRoot(rootfd int, name string, slashes bool, fn op) error {
	slash := strings.HasSuffix(name, "/") && strings.Trim(name, "/") != ""
	if !slash && plainPath(name) {
		if err := plain(rootfd, name, fn); err != errFollow {
			return err
		}
	}
	w := walk{root: rootfd, dir: rootfd, charge: f.charge, leapt: -1}
	defer w.close()
	return w.run(splitNames(name), slash, slashes, fn)
}

// plain runs fn on a plain name's directory, opened by the kernel in one
// openat2 beneath the root that refuses symlinks. errFollow means the
// name needs the walk: a symlink on the way or at the end.
func plain(rootfd int, name string, fn op) error {
	dir, base := path.Split(name)
	if dir == "" {
		return fn(rootfd, base)
	}
	parent, err := openBeneath(rootfd, strings.TrimSuffix(dir, "/"))
	if slowPath(err) {
		return errFollow // for the walk a level at a time
	}
	if err != nil {
		return err
	}
	defer unix.Close(parent) // fn may panic: a nested walk's charger
	return fn(parent, base)
}

// slowPath reports whether openat2's err means the path needs walking a
// level at a time: a symlink or ".." on the way, a rename racing the
// walk, a path longer than the kernel takes at once, or no openat2 to
// be had. Anything else is the answer.
func slowPath(err error) bool {
	return errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EXDEV) ||
		errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ENAMETOOLONG) ||
		refused(err)
}

// refused reports whether openat2 itself is unavailable: missing (Linux
// before 5.6), or refused by a seccomp filter (Docker's default profile
// before 20.10 answered EPERM). Then the walk opens a level at a time.
func refused(err error) bool {
	return errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EPERM)
}

// splitNames splits a name into the names to walk, without "" and "."
// but a last "." after others ("d/."), which makes d a directory to
// walk into. It scans name rather than splitting it, so that 4 KiB of
// "/" or "./" costs no more than a name.
func splitNames(name string) []string {
	var out []string
	for rest := name; rest != ""; {
		c := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			c, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	if len(out) > 0 && strings.HasSuffix(name, "/.") {
		out = append(out, ".")
	}
	return out
}

// walk is one resolution of a name, a level at a time.
type walk struct {
	root   int      // the root's descriptor, not owned
	dir    int      // where the walk is: root, or a descriptor it owns
	canon  []string // names from the root to dir, none a symlink
	links  int      // symlinks followed so far
	leapt  int      // links when leap last tried, -1 before it did
	charge Charger  // pays for what the walk adds to the name; may be nil
}

// run walks parts to the directory of the last and runs fn there,
// following a symlink fn reports at the end. With slash the last name
// must be a directory: a symlink there is followed first, or with
// slashes the name goes to fn with its slash, for the kernel to answer
// without following it.
func (w *walk) run(parts []string, slash, slashes bool, fn op) error {
	for {
		for len(parts) > 1 {
			if w.leapt != w.links {
				parts = w.leap(parts)
				continue
			}
			var err error
			if parts, err = w.step(parts); err != nil {
				return err
			}
		}
		base := "."
		if len(parts) == 1 {
			base = parts[0]
		}
		if base == ".." {
			if _, err := w.step(parts); err != nil {
				return err
			}
			parts, base = nil, "."
		}
		var err error
		switch {
		case !slash || base == ".":
			err = fn(w.dir, base)
		case slashes:
			err = fn(w.dir, base+"/") // never followed, whatever it is
		default:
			if err = mustBeDir(w.dir, base); err == nil {
				slash = false
				err = fn(w.dir, base)
			}
		}
		if err != errFollow {
			return err
		}
		if parts, err = w.expand(base, nil); err != nil {
			return err
		}
	}
}

// mustBeDir is nil if base in dir is a directory, errFollow if it is a
// symlink, and ENOENT or ENOTDIR otherwise.
func mustBeDir(dir int, base string) error {
	switch t, err := typeOf(dir, base); {
	case err != nil:
		return err
	case t == unix.S_IFLNK:
		return errFollow
	case t != unix.S_IFDIR:
		return syscall.ENOTDIR
	}
	return nil
}

// typeOf is the type (the S_IFMT bits) of base in dir, not following a
// symlink there.
func typeOf(dir int, base string) (uint32, error) {
	var st unix.Stat_t
	err := unix.Fstatat(dir, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st.Mode & unix.S_IFMT, err
}

// leap walks as many of parts as it can (all but the last, up to a "."
// or "..", as many as fit in a chunk) in one openat2 beneath the walk's
// directory that refuses symlinks, as the kernel does a plain path: once
// at the start and once after each link, so that a path through a
// symlink costs a few system calls, not two a level. Where openat2 refuses, step walks a level at a time until
// the next link; so the kernel never walks a name twice for one link,
// and each was charged, by the caller or by expand.
func (w *walk) leap(parts []string) []string {
	w.leapt = w.links
	n := 0
	for n < len(parts)-1 && parts[n] != ".." && parts[n] != "." {
		n++
	}
	if n = fitting(parts[:n]); n < 2 {
		return parts
	}
	fd, err := openBeneath(w.dir, strings.Join(parts[:n], "/"))
	if err != nil {
		return parts
	}
	w.enter(fd)
	w.canon = append(w.canon, parts[:n]...)
	return parts[n:]
}

// step walks parts[0], a directory or a symlink to one, and returns the
// names left to walk.
func (w *walk) step(parts []string) ([]string, error) {
	c, rest := parts[0], parts[1:]
	switch c {
	case ".": // "d/." from a link's target, "d" walked already
		return rest, nil
	case "..":
		return rest, w.up()
	}
	fd, err := unix.Openat(w.dir, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == nil {
		w.enter(fd)
		w.canon = append(w.canon, c)
		return rest, nil
	}
	if !errors.Is(err, syscall.ENOTDIR) && !errors.Is(err, syscall.ELOOP) {
		return nil, err
	}
	return w.expand(c, rest)
}

// expand reads the symlink name in the walk's directory, charges its
// target's names and returns them followed by rest. A name that is no
// symlink after all (swapped meanwhile) is ENOTDIR.
func (w *walk) expand(name string, rest []string) ([]string, error) {
	if w.links++; w.links > maxLinks {
		return nil, syscall.ELOOP
	}
	target, err := readLink(w.dir, name)
	if errors.Is(err, syscall.EINVAL) {
		return nil, syscall.ENOTDIR
	}
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(target, "/") {
		return nil, syscall.EPERM // absolute: out of the root
	}
	// A level for each "/" as the guest's own paths are charged
	// (wasip1's chargeWalk): the names, and the empty and "." ones,
	// which cost the scan if not the kernel.
	w.pay(strings.Count(target, "/") + 1)
	parts := splitNames(target)
	if strings.HasSuffix(target, "/") && len(rest) == 0 {
		parts = append(parts, ".") // the target must be a directory
	}
	return append(parts, rest...), nil
}

// up goes to the parent of the walk's directory, which is never above
// the root, by opening it again from the root with the kernel's check
// that it stays beneath, as os.Root restarts its walk: the directory the
// walk holds may have been moved out of the tree since.
func (w *walk) up() error {
	if len(w.canon) == 0 {
		return syscall.EPERM // above the root
	}
	w.canon = w.canon[:len(w.canon)-1]
	w.pay(len(w.canon))
	w.enter(w.root)
	for rest := w.canon; len(rest) > 0; {
		n := max(fitting(rest), 1) // a single name is at most 255 bytes
		fd, err := openBeneath(w.dir, strings.Join(rest[:n], "/"))
		if refused(err) {
			return w.down()
		}
		if err != nil {
			return err
		}
		w.enter(fd)
		rest = rest[n:]
	}
	return nil
}

// chunk is the most of a path the walk gives openat2 at once, inside the
// kernel's PATH_MAX of 4,096 bytes: a longer one is opened a chunk at a
// time, each beneath the one before.
const chunk = 4000

// fitting is how many of names, from the first, join into a path of at
// most chunk bytes.
func fitting(names []string) int {
	n, size := 0, 0
	for n < len(names) && size+len(names[n])+1 <= chunk {
		size += len(names[n]) + 1
		n++
	}
	return n
}

// down walks the names of canon from the root again, a level at a time,
// where openat2 is refused; a symlink swapped in among them is ELOOP.
func (w *walk) down() error {
	w.enter(w.root)
	for _, c := range w.canon {
		fd, err := unix.Openat(w.dir, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		w.enter(fd)
	}
	return nil
}

// enter makes fd the walk's directory, closing the one it held.
func (w *walk) enter(fd int) {
	w.close()
	w.dir = fd
}

// close closes the walk's directory unless it is the root.
func (w *walk) close() {
	if w.dir != w.root {
		_ = unix.Close(w.dir)
		w.dir = w.root
	}
}

// pay charges levels of walking, which ends the call if its budget
// cannot pay (the charger panics out of it; the walk's deferred close
// still runs).
func (w *walk) pay(levels int) {
	if w.charge != nil && levels > 0 {
		w.charge.ChargeLevels(levels)
	}
}

// readLink is readlinkat(2) for any length of target.
func readLink(dir int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
