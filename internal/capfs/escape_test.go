package capfs

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	xsys "github.com/tetratelabs/wazero/experimental/sys"
)

// Paths that climb out lexically. wazero rejects most of these before
// they reach an FS, but the FS must not rely on it: a guest can reach
// "dir/" + ".." style names through descriptors, and other embedders may
// not clean paths at all.
func TestEscapeDotDot(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "sub/f", "inside")
	s.hostFile(t, "a/f", "inside")
	for _, p := range []string{
		"..", "../", "../secret", "./../secret", "sub/../../secret",
		"a/../../secret", "sub/../../tree/../secret", "/../secret",
		"../out/f",
	} {
		_, errno := s.fs.OpenFile(p, xsys.O_RDONLY, 0)
		wantErrno(t, "OpenFile "+p, errno, xsys.EPERM)
		_, errno = s.fs.OpenFile(p, xsys.O_RDWR|xsys.O_CREAT|xsys.O_TRUNC, 0o644)
		wantErrno(t, "OpenFile(O_CREAT|O_TRUNC) "+p, errno, xsys.EPERM)
		_, errno = s.fs.Stat(p)
		wantErrno(t, "Stat "+p, errno, xsys.EPERM)
		_, errno = s.fs.Lstat(p)
		wantErrno(t, "Lstat "+p, errno, xsys.EPERM)
		wantErrno(t, "Unlink "+p, s.fs.Unlink(p), xsys.EPERM)
		wantErrno(t, "Chmod "+p, s.fs.Chmod(p, 0o777), xsys.EPERM)
		wantErrno(t, "Utimens "+p, s.fs.Utimens(p, 0, 0), xsys.EPERM)
	}
	// Host system files only ever get read attempts, so a broken FS can't
	// damage the machine running the tests.
	_, errno := openRead(t, s.fs, "sub/../../../../../etc/passwd")
	wantErrno(t, "read sub/../../../../../etc/passwd", errno, xsys.EPERM)
	// POSIX resolves left to right: a missing directory is reported as
	// missing before any ".." is reached. Still nothing outside is read.
	_, errno = openRead(t, s.fs, "nosuch/../../secret")
	wantErrno(t, "read nosuch/../../secret", errno, xsys.ENOENT)
	wantErrno(t, "Mkdir ../newdir", s.fs.Mkdir("../newdir", 0o755), xsys.EPERM)
	wantErrno(t, "Rmdir ../out", s.fs.Rmdir("../out"), xsys.EPERM)
	s.untouched(t)
}

// An absolute guest path names the capability's root, never the host's.
func TestAbsolutePathStaysInside(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	_, errno := openRead(t, s.fs, "/etc/passwd")
	wantErrno(t, "open /etc/passwd with no etc in the tree", errno, xsys.ENOENT)
	abs := filepath.Join(s.base, "secret") // the real host path of the secret
	_, errno = openRead(t, s.fs, abs)
	wantErrno(t, "open host-absolute secret path", errno, xsys.ENOENT)

	s.hostFile(t, "etc/passwd", "fake passwd")
	got, errno := openRead(t, s.fs, "/etc/passwd")
	ok(t, "open /etc/passwd", errno)
	if got != "fake passwd" {
		t.Errorf("/etc/passwd read %q, want the tree's own file", got)
	}
	got, errno = openRead(t, s.fs, "//etc///passwd")
	ok(t, "open //etc///passwd", errno)
	if got != "fake passwd" {
		t.Errorf("//etc///passwd read %q", got)
	}
	s.untouched(t)
}

// Symlinks the host left in the tree, pointing out absolutely or
// relatively, to directories or files: none may be followed out.
func TestHostSymlinksOut(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "sub/f", "inside")
	s.hostLink(t, "/etc", "etc")
	s.hostLink(t, "..", "up")
	s.hostLink(t, "../out", "outdir")
	s.hostLink(t, "../secret", "sec")
	s.hostLink(t, filepath.Join(s.base, "secret"), "abssec")
	s.hostLink(t, "../../secret", "sub/sec")
	s.fs = s.open(t, ReadWrite)

	_, errno := openRead(t, s.fs, "etc/passwd") // read-only: see TestEscapeDotDot
	wantErrno(t, "read etc/passwd", errno, xsys.EPERM)
	for _, p := range []string{
		"up/secret", "outdir/f", "sec", "abssec", "sub/sec",
		"up/tree/../secret", "sub/../up/secret",
	} {
		_, errno := openRead(t, s.fs, p)
		wantErrno(t, "read "+p, errno, xsys.EPERM)
		_, errno = s.fs.OpenFile(p, xsys.O_WRONLY|xsys.O_TRUNC, 0)
		wantErrno(t, "truncate-open "+p, errno, xsys.EPERM)
		_, errno = s.fs.OpenFile(p, xsys.O_WRONLY|xsys.O_APPEND, 0)
		wantErrno(t, "append-open "+p, errno, xsys.EPERM)
		_, errno = s.fs.Stat(p)
		wantErrno(t, "Stat "+p, errno, xsys.EPERM)
		wantErrno(t, "Chmod "+p, s.fs.Chmod(p, 0o600), xsys.EPERM)
		wantErrno(t, "Utimens "+p, s.fs.Utimens(p, 1, 1), xsys.EPERM)
	}
	// Creating through an out-pointing directory link.
	for _, p := range []string{"up/new", "outdir/new"} {
		_, errno := s.fs.OpenFile(p, xsys.O_RDWR|xsys.O_CREAT|xsys.O_EXCL, 0o644)
		wantErrno(t, "create "+p, errno, xsys.EPERM)
		wantErrno(t, "Mkdir "+p, s.fs.Mkdir(p, 0o755), xsys.EPERM)
		wantErrno(t, "Symlink at "+p, s.fs.Symlink("x", p), xsys.EPERM)
	}
	wantErrno(t, "Unlink up/secret", s.fs.Unlink("up/secret"), xsys.EPERM)
	wantErrno(t, "Unlink outdir/f", s.fs.Unlink("outdir/f"), xsys.EPERM)
	wantErrno(t, "Rmdir up/out", s.fs.Rmdir("up/out"), xsys.EPERM)

	// The links themselves are ordinary entries of the tree.
	st, errno := s.fs.Lstat("etc")
	ok(t, "Lstat etc", errno)
	if st.Mode.Type() != os.ModeSymlink {
		t.Errorf("Lstat etc: mode %v, want a symlink", st.Mode)
	}
	s.untouched(t)
}

// Opening a directory symlink that points out, in every way wazero might.
func TestOpenDirSymlinkOut(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	s.hostLink(t, "/etc", "etc")
	s.hostLink(t, "../out", "outdir")
	s.fs = s.open(t, ReadWrite)
	for _, p := range []string{"etc", "outdir", "outdir/", "etc/."} {
		_, errno := s.fs.OpenFile(p, xsys.O_RDONLY|xsys.O_DIRECTORY, 0)
		wantErrno(t, "open dir "+p, errno, xsys.EPERM)
		_, errno = s.fs.OpenFile(p, xsys.O_RDONLY, 0)
		wantErrno(t, "open "+p, errno, xsys.EPERM)
	}
	_, errno := s.fs.OpenFile("outdir", xsys.O_RDONLY|xsys.O_DIRECTORY|xsys.O_NOFOLLOW, 0)
	wantErrno(t, "open dir outdir O_NOFOLLOW", errno, xsys.ELOOP)
	s.untouched(t)
}

// Reading a link's text is fine; following it is not.
func TestReadlinkOut(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadOnly)
	s.hostLink(t, "/etc", "etc")
	s.hostLink(t, "../secret", "sec")
	s.hostLink(t, "..", "up")
	s.fs = s.open(t, ReadOnly)
	for name, want := range map[string]string{"etc": "/etc", "sec": "../secret", "up": ".."} {
		got, errno := s.fs.Readlink(name)
		ok(t, "Readlink "+name, errno)
		if got != want {
			t.Errorf("Readlink %s = %q, want %q", name, got, want)
		}
	}
	_, errno := s.fs.Readlink("up/tree/sec")
	wantErrno(t, "Readlink through an out-pointing link", errno, xsys.EPERM)
	_, errno = s.fs.Readlink("../tree/sec")
	wantErrno(t, "Readlink ../tree/sec", errno, xsys.EPERM)
}

// Symlinks the guest makes: out-pointing ones are refused, and one that
// fools the lexical check is still never followed out.
func TestGuestSymlinks(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	mustDo(t, os.MkdirAll(filepath.Join(s.tree, "a/b/c"), 0o755))
	s.hostFile(t, "x", "inside x")
	for _, c := range []struct{ target, link string }{
		{"/etc", "lnk"},
		{"/", "lnk"},
		{"../secret", "lnk"},
		{"..", "up"},
		{"../..", "up"},
		{"a/../..", "up"},
		{"../../secret", "a/lnk"},
		{"../../../../secret", "a/b/c/lnk"},
		{filepath.Join(s.base, "secret"), "abs"},
	} {
		wantErrno(t, "Symlink "+c.link+" -> "+c.target, s.fs.Symlink(c.target, c.link), xsys.EPERM)
		if _, errno := s.fs.Lstat(c.link); errno != xsys.ENOENT {
			t.Errorf("refused link %s exists anyway (Lstat errno %v)", c.link, errno)
		}
	}
	for _, p := range []string{"lnk/passwd", "up/secret", "abs"} {
		_, errno := openRead(t, s.fs, p)
		wantErrno(t, "open "+p+" after refused symlink", errno, xsys.ENOENT)
	}

	// Links that go down by plain names are allowed and work.
	s.hostFile(t, "a/b/c/y", "inside y")
	ok(t, "Symlink in -> a/b/c/y", s.fs.Symlink("a/b/c/y", "in"))
	got, errno := openRead(t, s.fs, "in")
	ok(t, "open in", errno)
	if got != "inside y" {
		t.Errorf("in read %q", got)
	}
	// Any "..", even one that stays inside as written, is refused: a
	// symlink among its components, or a rename of the directory that
	// holds it, can turn it outward on the host. This is the chain that
	// fooled a lexical check: sub/up -> .. is inside, and l2 -> sub/up/..
	// reads as "sub", but the host resolves it to the tree's parent.
	mustDo(t, os.MkdirAll(filepath.Join(s.tree, "sub"), 0o755))
	for _, c := range []struct{ target, link string }{
		{"..", "sub/up"},
		{"sub/up/..", "l2"},
		{"../../../x", "a/b/c/in"},
		{"a/../x", "l3"},
	} {
		wantErrno(t, "Symlink "+c.link+" -> "+c.target, s.fs.Symlink(c.target, c.link), xsys.EPERM)
	}
	// And whatever the guest made, the host following it stays inside.
	mustDo(t, filepath.WalkDir(s.tree, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Type()&os.ModeSymlink == 0 {
			return err
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil // dangling: leads nowhere
		}
		if r, _ := filepath.Rel(s.tree, real); r == ".." || strings.HasPrefix(r, "../") {
			t.Errorf("the host follows %s out of the tree, to %s", p, real)
		}
		return nil
	}))
	s.untouched(t)
}

// A directory the guest has used is replaced by a symlink out between
// calls: the next call must not follow it, whether by name or relative to
// a descriptor wazero opened earlier.
func TestSymlinkSwappedForDirectory(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "d/f", "inside\n")
	got, errno := openRead(t, s.fs, "d/f")
	ok(t, "read d/f", errno)
	if got != "inside\n" {
		t.Fatalf("d/f = %q", got)
	}
	dir, errno := s.fs.OpenFile("d", xsys.O_RDONLY|xsys.O_DIRECTORY, 0)
	ok(t, "open d", errno)
	defer dir.Close()

	mustDo(t, os.Rename(filepath.Join(s.tree, "d"), filepath.Join(s.tree, "moved")))
	s.hostLink(t, "../out", "d")

	_, errno = openRead(t, s.fs, "d/f")
	wantErrno(t, "read d/f after swap", errno, xsys.EPERM)
	_, errno = s.fs.OpenFile("d/f", xsys.O_WRONLY|xsys.O_TRUNC, 0)
	wantErrno(t, "truncate d/f after swap", errno, xsys.EPERM)
	// wazero joins a directory descriptor's name with the relative path.
	_, errno = openRead(t, s.fs, "/d/f")
	wantErrno(t, "read /d/f after swap", errno, xsys.EPERM)
	// The descriptor itself still lists the real (moved) directory.
	if got := names(listDir(t, dir, 10)); got != "f" {
		t.Errorf("old descriptor lists %q, want f", got)
	}
	s.untouched(t)
}

// The same swap, racing: one goroutine flips "d" between a real
// directory and a symlink out, while the FS keeps opening "d/f". Any
// implementation that resolves a host path without os.Root reads the
// outside file here sooner or later.
func TestSymlinkSwapRace(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "real/f", "inside\n")
	d := filepath.Join(s.tree, "d")
	real := filepath.Join(s.tree, "real")
	mustDo(t, os.WriteFile(filepath.Join(s.base, "out", "f"), []byte("outside\n"), 0o644))
	s.fs = s.open(t, ReadWrite)

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			_ = os.Rename(real, d)
			_ = os.Rename(d, real)
			_ = os.Symlink("../out", d)
			_ = os.Remove(d)
		}
	}()
	var inside, refused int
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		f, errno := s.fs.OpenFile("d/f", xsys.O_RDONLY, 0)
		if errno != 0 {
			refused++
			continue
		}
		buf := make([]byte, 64)
		n, _ := f.Read(buf)
		f.Close()
		if got := string(buf[:n]); got != "inside\n" {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("read %q through d/f: escaped", got)
		}
		inside++
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d reads inside, %d refused", inside, refused)
	s.untouched(t)
}

// Rename cannot carry a file out, or bring one in.
func TestRenameOut(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "f", "inside")
	s.hostFile(t, "sub/g", "inside g")
	s.hostLink(t, "..", "up")
	s.hostLink(t, "../secret", "sec")
	s.fs = s.open(t, ReadWrite)
	for _, c := range [][2]string{
		{"f", "../x"}, {"f", "/../x"}, {"f", "sub/../../x"}, {"f", "up/x"},
		{"sub", "../sub"}, {"sub", "up/sub"}, {"f", "up/secret"},
		{"../secret", "stolen"}, {"up/secret", "stolen"}, {"../out", "stolen"},
	} {
		wantErrno(t, "Rename "+c[0]+" "+c[1], s.fs.Rename(c[0], c[1]), xsys.EPERM)
	}
	// Renaming the out-pointing link moves the link, not its target.
	ok(t, "Rename sec", s.fs.Rename("sec", "sec2"))
	_, errno := openRead(t, s.fs, "sec2")
	wantErrno(t, "read renamed link", errno, xsys.EPERM)
	if _, err := os.Stat(filepath.Join(s.tree, "f")); err != nil {
		t.Errorf("f is gone: %v", err)
	}
	s.untouched(t)
}

// A hard link can neither give an outside file a name inside nor give an
// inside file a name outside.
func TestLinkOut(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "f", "inside")
	s.hostLink(t, "..", "up")
	s.hostLink(t, "../secret", "sec")
	s.fs = s.open(t, ReadWrite)
	for _, c := range [][2]string{
		{"f", "../x"}, {"f", "/../x"}, {"f", "up/x"},
		{"../secret", "stolen"}, {"/../secret", "stolen"}, {"up/secret", "stolen"},
		{"../out/f", "stolen"},
	} {
		wantErrno(t, "Link "+c[0]+" "+c[1], s.fs.Link(c[0], c[1]), xsys.EPERM)
	}
	// Linking the out-pointing symlink links the symlink itself (secret's
	// link count stays 1, checked by untouched), and it still can't be
	// followed.
	ok(t, "Link sec", s.fs.Link("sec", "sec2"))
	st, errno := s.fs.Lstat("sec2")
	ok(t, "Lstat sec2", errno)
	if st.Mode.Type() != os.ModeSymlink {
		t.Errorf("sec2 is %v, want a symlink", st.Mode)
	}
	_, errno = openRead(t, s.fs, "sec2")
	wantErrno(t, "read sec2", errno, xsys.EPERM)
	s.untouched(t)
}

func TestIsEscape(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadOnly)
	_, err := s.fs.root.Open("../secret")
	if !isEscape(err) || toErrno(err) != xsys.EPERM {
		t.Errorf("os.Root escape %v not recognised", err)
	}
	if isEscape(os.ErrNotExist) || !strings.Contains(err.Error(), escapeMessage) {
		t.Errorf("isEscape misfires")
	}
}
