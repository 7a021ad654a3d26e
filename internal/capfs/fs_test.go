package capfs

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	xsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

func TestCreateWriteReadSeek(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	fsys := s.fs
	f, errno := fsys.OpenFile("/new.txt", xsys.O_RDWR|xsys.O_CREAT|xsys.O_EXCL, 0o640)
	ok(t, "create", errno)
	defer f.Close()
	n, errno := f.Write([]byte("hello, world"))
	ok(t, "Write", errno)
	if n != 12 {
		t.Fatalf("wrote %d", n)
	}
	pos, errno := f.Seek(0, io.SeekStart)
	ok(t, "Seek", errno)
	if pos != 0 {
		t.Fatalf("Seek = %d", pos)
	}
	if got := readAll(t, f); got != "hello, world" {
		t.Errorf("read back %q", got)
	}
	if pos, _ = f.Seek(-5, io.SeekEnd); pos != 7 {
		t.Errorf("Seek end = %d", pos)
	}
	if pos, _ = f.Seek(2, io.SeekCurrent); pos != 9 {
		t.Errorf("Seek current = %d", pos)
	}
	_, errno = f.Seek(0, 3)
	wantErrno(t, "Seek bad whence", errno, xsys.EINVAL)
	_, errno = f.Seek(-100, io.SeekStart)
	wantErrno(t, "Seek negative", errno, xsys.EINVAL)

	_, errno = f.Pwrite([]byte("WORLD"), 7)
	ok(t, "Pwrite", errno)
	buf := make([]byte, 5)
	n, errno = f.Pread(buf, 7)
	ok(t, "Pread", errno)
	if string(buf[:n]) != "WORLD" {
		t.Errorf("Pread = %q", buf[:n])
	}
	// Pread past the end is a short read, not an error.
	n, errno = f.Pread(buf, 10)
	ok(t, "Pread at end", errno)
	if n != 2 {
		t.Errorf("Pread at end read %d", n)
	}
	_, errno = f.Pread(buf, -1)
	wantErrno(t, "Pread negative", errno, xsys.EINVAL)
	_, errno = f.Pwrite(buf, -1)
	wantErrno(t, "Pwrite negative", errno, xsys.EINVAL)
	// Pread and Pwrite leave the offset alone.
	if pos, _ = f.Seek(0, io.SeekCurrent); pos != 9 {
		t.Errorf("offset moved to %d", pos)
	}

	ok(t, "Truncate", f.Truncate(5))
	wantErrno(t, "Truncate negative", f.Truncate(-1), xsys.EINVAL)
	ok(t, "Sync", f.Sync())
	ok(t, "Datasync", f.Datasync())
	st, errno := f.Stat()
	ok(t, "Stat", errno)
	if st.Size != 5 || st.Mode.Perm() != 0o640 || !st.Mode.IsRegular() {
		t.Errorf("Stat = %+v", st)
	}
	if b, _ := os.ReadFile(filepath.Join(s.tree, "new.txt")); string(b) != "hello" {
		t.Errorf("host sees %q", b)
	}
	ino, _ := f.Ino()
	dev, _ := f.Dev()
	if ino != st.Ino || dev != st.Dev || ino == 0 {
		t.Errorf("Ino/Dev %d/%d, Stat %d/%d", ino, dev, st.Ino, st.Dev)
	}
	if dir, _ := f.IsDir(); dir {
		t.Error("IsDir of a file")
	}
	ok(t, "Close", f.Close())
	ok(t, "Close twice", f.Close())
	_, errno = f.Read(buf)
	wantErrno(t, "Read after Close", errno, xsys.EBADF)
	_, errno = f.Stat()
	wantErrno(t, "Stat after Close", errno, xsys.EBADF)
	_, errno = f.Seek(0, io.SeekStart)
	wantErrno(t, "Seek after Close", errno, xsys.EBADF)

	_, errno = fsys.OpenFile("new.txt", xsys.O_RDWR|xsys.O_CREAT|xsys.O_EXCL, 0o640)
	wantErrno(t, "O_EXCL on existing", errno, xsys.EEXIST)
	g, errno := fsys.OpenFile("new.txt", xsys.O_RDWR|xsys.O_TRUNC, 0)
	ok(t, "O_TRUNC", errno)
	if st, _ := g.Stat(); st.Size != 0 {
		t.Errorf("O_TRUNC left %d bytes", st.Size)
	}
	g.Close()
	// The guest cannot create setuid files, whatever mode it asks for.
	h, errno := fsys.OpenFile("suid", xsys.O_WRONLY|xsys.O_CREAT, 0o777|fs.ModeSetuid)
	ok(t, "create with setuid", errno)
	h.Close()
	ok(t, "Chmod setuid", fsys.Chmod("suid", 0o755|fs.ModeSetuid|fs.ModeSetgid))
	if fi, _ := os.Stat(filepath.Join(s.tree, "suid")); fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("suid mode %v", fi.Mode())
	}
}

func TestAppend(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("SetAppend and append-mode Pwrite need Linux")
	}
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "log", "one\n")
	f, errno := s.fs.OpenFile("log", xsys.O_WRONLY|xsys.O_APPEND, 0)
	ok(t, "open O_APPEND", errno)
	defer f.Close()
	if !f.IsAppend() {
		t.Error("IsAppend false")
	}
	_, errno = f.Seek(0, io.SeekStart)
	ok(t, "Seek", errno)
	_, errno = f.Write([]byte("two\n"))
	ok(t, "Write", errno)
	// Linux appends on pwrite to an O_APPEND descriptor (pwrite(2) BUGS).
	_, errno = f.Pwrite([]byte("three\n"), 0)
	ok(t, "Pwrite", errno)
	ok(t, "SetAppend(false)", f.SetAppend(false))
	if f.IsAppend() {
		t.Error("IsAppend after SetAppend(false)")
	}
	_, errno = f.Pwrite([]byte("ONE"), 0)
	ok(t, "Pwrite", errno)
	ok(t, "SetAppend(true)", f.SetAppend(true))
	_, errno = f.Seek(0, io.SeekStart)
	ok(t, "Seek", errno)
	_, errno = f.Write([]byte("four\n"))
	ok(t, "Write", errno)
	if b, _ := os.ReadFile(filepath.Join(s.tree, "log")); string(b) != "ONE\ntwo\nthree\nfour\n" {
		t.Errorf("log = %q", b)
	}
}

// The mount root the way wazero reaches it: lazyDir opens "." O_RDONLY,
// path_filestat_get passes ".", and descriptors for "." produce "/name".
func TestMountRoot(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "a", "a")
	for _, p := range []string{".", "", "/", "./", "//"} {
		st, errno := s.fs.Stat(p)
		ok(t, "Stat "+p, errno)
		if !st.Mode.IsDir() {
			t.Errorf("Stat %q: %v", p, st.Mode)
		}
		_, errno = s.fs.Lstat(p)
		ok(t, "Lstat "+p, errno)
		d, errno := s.fs.OpenFile(p, xsys.O_RDONLY, 0)
		ok(t, "open "+p, errno)
		if dir, _ := d.IsDir(); !dir {
			t.Errorf("%q is not a directory", p)
		}
		if got := names(listDir(t, d, 100)); got != "a" {
			t.Errorf("ls %q = %q", p, got)
		}
		d.Close()
	}
	_, errno := s.fs.OpenFile(".", xsys.O_RDWR, 0)
	wantErrno(t, "open . for writing", errno, xsys.EISDIR)
}

func TestReaddir(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	for _, n := range []string{"f1", "f2", "f3", "f4", "f5"} {
		s.hostFile(t, n, n)
	}
	mustDo(t, os.Mkdir(filepath.Join(s.tree, "sub"), 0o755))
	s.hostLink(t, "f1", "link")
	d, errno := s.fs.OpenFile(".", xsys.O_RDONLY|xsys.O_DIRECTORY, 0)
	ok(t, "open .", errno)
	defer d.Close()

	ents := listDir(t, d, 3)
	if got := names(ents); got != "f1,f2,f3,f4,f5,link,sub" {
		t.Fatalf("entries %q", got)
	}
	for _, e := range ents {
		fi, err := os.Lstat(filepath.Join(s.tree, e.Name))
		mustDo(t, err)
		if want := fi.Mode().Type(); e.Type != want {
			t.Errorf("%s: type %v, want %v", e.Name, e.Type, want)
		}
		if want := inoOf(fi); e.Ino != want || e.Ino == 0 {
			t.Errorf("%s: ino %d, want %d", e.Name, e.Ino, want)
		}
	}
	// Exhausted: further calls return nothing, without error.
	more, errno := d.Readdir(3)
	ok(t, "Readdir at end", errno)
	if len(more) != 0 {
		t.Errorf("Readdir at end = %v", more)
	}
	// Rewind as wazero's DirentCache does; new entries show up.
	s.hostFile(t, "f6", "f6")
	_, errno = d.Seek(0, io.SeekStart)
	ok(t, "rewind", errno)
	if got := names(listDir(t, d, 100)); got != "f1,f2,f3,f4,f5,f6,link,sub" {
		t.Errorf("after rewind %q", got)
	}
	_, errno = d.Seek(0, io.SeekStart)
	ok(t, "rewind", errno)
	all, errno := d.Readdir(-1)
	ok(t, "Readdir(-1)", errno)
	if len(all) != 8 {
		t.Errorf("Readdir(-1) = %d entries", len(all))
	}
	_, errno = d.Seek(1, io.SeekStart)
	wantErrno(t, "seek dir elsewhere", errno, xsys.EISDIR)

	// Directories refuse content operations.
	_, errno = d.Read(make([]byte, 1))
	wantErrno(t, "Read dir", errno, xsys.EISDIR)
	_, errno = d.Write([]byte("x"))
	wantErrno(t, "Write dir", errno, xsys.EISDIR)
	wantErrno(t, "Truncate dir", d.Truncate(0), xsys.EISDIR)
	wantErrno(t, "SetAppend dir", d.SetAppend(true), xsys.EISDIR)
	ok(t, "Sync dir", d.Sync())

	f, errno := s.fs.OpenFile("f1", xsys.O_RDONLY, 0)
	ok(t, "open f1", errno)
	_, errno = f.Readdir(1)
	wantErrno(t, "Readdir on a file", errno, xsys.EBADF)
	f.Close()
	d.Close()
	_, errno = d.Readdir(1)
	wantErrno(t, "Readdir after Close", errno, xsys.EBADF)
}

func TestDirectoryOps(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	fsys := s.fs
	ok(t, "Mkdir", fsys.Mkdir("d", 0o750))
	wantErrno(t, "Mkdir existing", fsys.Mkdir("d", 0o750), xsys.EEXIST)
	wantErrno(t, "Mkdir in missing", fsys.Mkdir("no/d", 0o750), xsys.ENOENT)
	s.hostFile(t, "d/f", "f")
	s.hostFile(t, "file", "file")
	wantErrno(t, "Mkdir under a file", fsys.Mkdir("file/d", 0o750), xsys.ENOTDIR)
	wantErrno(t, "Rmdir non-empty", fsys.Rmdir("d"), xsys.ENOTEMPTY)
	wantErrno(t, "Rmdir file", fsys.Rmdir("file"), xsys.ENOTDIR)
	wantErrno(t, "Rmdir missing", fsys.Rmdir("missing"), xsys.ENOENT)
	wantErrno(t, "Unlink dir", fsys.Unlink("d"), xsys.EISDIR)
	wantErrno(t, "Unlink missing", fsys.Unlink("missing"), xsys.ENOENT)
	wantErrno(t, "Unlink file/", fsys.Unlink("file/"), xsys.ENOTDIR)
	_, errno := fsys.OpenFile("file/x", xsys.O_RDONLY, 0)
	wantErrno(t, "open under a file", errno, xsys.ENOTDIR)
	_, errno = fsys.OpenFile("file", xsys.O_RDONLY|xsys.O_DIRECTORY, 0)
	wantErrno(t, "O_DIRECTORY on a file", errno, xsys.ENOTDIR)
	_, errno = fsys.OpenFile("d", xsys.O_WRONLY, 0)
	wantErrno(t, "open dir for writing", errno, xsys.EISDIR)
	_, errno = fsys.OpenFile("missing", xsys.O_RDONLY, 0)
	wantErrno(t, "open missing", errno, xsys.ENOENT)
	_, errno = fsys.OpenFile("file", xsys.O_RDWR|xsys.O_WRONLY, 0)
	wantErrno(t, "bad access mode", errno, xsys.EINVAL)

	st, errno := fsys.Stat("d")
	ok(t, "Stat d", errno)
	if !st.Mode.IsDir() || st.Mode.Perm() != 0o750 {
		t.Errorf("d mode %v", st.Mode)
	}

	// Renames, with POSIX's answers where os.Root's differ.
	ok(t, "Rename file", fsys.Rename("file", "d/moved"))
	wantErrno(t, "Rename missing", fsys.Rename("file", "x"), xsys.ENOENT)
	ok(t, "Mkdir e", fsys.Mkdir("e", 0o755))
	wantErrno(t, "Rename file onto dir", fsys.Rename("d/moved", "e"), xsys.EISDIR)
	ok(t, "Mkdir full", fsys.Mkdir("full", 0o755))
	s.hostFile(t, "full/x", "x")
	wantErrno(t, "Rename dir onto non-empty dir", fsys.Rename("d", "full"), xsys.ENOTEMPTY)
	wantErrno(t, "Rename dir into itself", fsys.Rename("e", "e/sub"), xsys.EINVAL)
	ok(t, "Mkdir e/sub", fsys.Mkdir("e/sub", 0o755))
	wantErrno(t, "Rename dir onto its own child", fsys.Rename("e", "e/sub"), xsys.EINVAL)
	if _, err := os.Stat(filepath.Join(s.tree, "e/sub")); err != nil {
		t.Errorf("refused rename removed e/sub: %v", err)
	}
	ok(t, "Rmdir e/sub", fsys.Rmdir("e/sub"))
	ok(t, "Rename dir onto empty dir", fsys.Rename("d", "e"))
	if b, err := os.ReadFile(filepath.Join(s.tree, "e/moved")); err != nil || string(b) != "file" {
		t.Errorf("e/moved = %q, %v", b, err)
	}
	ok(t, "Rename onto itself", fsys.Rename("e", "e"))
	s.hostFile(t, "g", "g")
	wantErrno(t, "Rename dir onto file", fsys.Rename("e", "g"), xsys.ENOTDIR)
	ok(t, "Rename file onto file", fsys.Rename("g", "e/moved"))

	ok(t, "Unlink", fsys.Unlink("e/moved"))
	ok(t, "Unlink", fsys.Unlink("e/f"))
	ok(t, "Rmdir", fsys.Rmdir("e"))
	if _, err := os.Stat(filepath.Join(s.tree, "e")); !os.IsNotExist(err) {
		t.Errorf("e still there: %v", err)
	}
}

func TestLinksInside(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	fsys := s.fs
	s.hostFile(t, "d/f", "data")
	ok(t, "Link", fsys.Link("d/f", "hard"))
	st, errno := fsys.Stat("hard")
	ok(t, "Stat hard", errno)
	if st.Nlink != 2 {
		t.Errorf("nlink %d", st.Nlink)
	}
	wantErrno(t, "Link onto existing", fsys.Link("d/f", "hard"), xsys.EEXIST)
	wantErrno(t, "Link missing", fsys.Link("nope", "x"), xsys.ENOENT)

	ok(t, "Symlink", fsys.Symlink("d/f", "soft"))
	ok(t, "Symlink to dir", fsys.Symlink("d", "ldir"))
	wantErrno(t, "Symlink onto existing", fsys.Symlink("d/f", "soft"), xsys.EEXIST)
	if got, errno := openRead(t, fsys, "soft"); errno != 0 || got != "data" {
		t.Errorf("soft = %q, %v", got, errno)
	}
	if got, errno := openRead(t, fsys, "ldir/f"); errno != 0 || got != "data" {
		t.Errorf("ldir/f = %q, %v", got, errno)
	}
	lst, errno := fsys.Lstat("soft")
	ok(t, "Lstat soft", errno)
	if lst.Mode.Type() != fs.ModeSymlink {
		t.Errorf("Lstat soft: %v", lst.Mode)
	}
	target, errno := fsys.Readlink("soft")
	if errno != 0 || target != "d/f" {
		t.Errorf("Readlink = %q, %v", target, errno)
	}
	_, errno = fsys.Readlink("d/f")
	wantErrno(t, "Readlink on a file", errno, xsys.EINVAL)

	// O_NOFOLLOW refuses a final symlink, not one along the way.
	_, errno = fsys.OpenFile("soft", xsys.O_RDONLY|xsys.O_NOFOLLOW, 0)
	wantErrno(t, "O_NOFOLLOW on a symlink", errno, xsys.ELOOP)
	_, errno = fsys.OpenFile("soft", xsys.O_WRONLY|xsys.O_CREAT|xsys.O_NOFOLLOW, 0o644)
	wantErrno(t, "O_NOFOLLOW|O_CREAT on a symlink", errno, xsys.ELOOP)
	_, errno = fsys.OpenFile("soft", xsys.O_WRONLY|xsys.O_CREAT|xsys.O_EXCL|xsys.O_NOFOLLOW, 0o644)
	wantErrno(t, "O_EXCL|O_NOFOLLOW on a symlink", errno, xsys.EEXIST)
	f, errno := fsys.OpenFile("ldir/f", xsys.O_RDONLY|xsys.O_NOFOLLOW, 0)
	ok(t, "O_NOFOLLOW through a directory link", errno)
	f.Close()
	f, errno = fsys.OpenFile("created", xsys.O_WRONLY|xsys.O_CREAT|xsys.O_NOFOLLOW, 0o644)
	ok(t, "O_NOFOLLOW|O_CREAT new file", errno)
	f.Close()
	// Without O_NOFOLLOW, a dangling link is followed and creates inside.
	ok(t, "Symlink dangling", fsys.Symlink("d/target", "dangling"))
	f, errno = fsys.OpenFile("dangling", xsys.O_WRONLY|xsys.O_CREAT, 0o644)
	ok(t, "create through dangling link", errno)
	f.Close()
	if _, err := os.Stat(filepath.Join(s.tree, "d/target")); err != nil {
		t.Errorf("link target not created: %v", err)
	}

	ok(t, "Symlink loop", fsys.Symlink("loop", "loop"))
	_, errno = fsys.Stat("loop")
	wantErrno(t, "Stat loop", errno, xsys.ELOOP)
	_, errno = openRead(t, fsys, "loop")
	wantErrno(t, "open loop", errno, xsys.ELOOP)
	ok(t, "Unlink symlink", fsys.Unlink("soft"))
	ok(t, "Unlink dir symlink", fsys.Unlink("ldir"))
	if _, err := os.Stat(filepath.Join(s.tree, "d/f")); err != nil {
		t.Errorf("unlinking links removed the target: %v", err)
	}
	wantErrno(t, "Rmdir dir symlink", fsys.Rmdir("dangling"), xsys.ENOTDIR)
}

func TestOpenFlagsAccepted(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "f", "x")
	for _, fl := range []xsys.Oflag{xsys.O_DSYNC, xsys.O_SYNC, xsys.O_RSYNC, xsys.O_NONBLOCK} {
		f, errno := s.fs.OpenFile("f", xsys.O_RDWR|fl, 0)
		ok(t, "open with flag", errno)
		_, errno = f.Write([]byte("y"))
		ok(t, "Write", errno)
		f.Close()
	}
}

func TestUtimens(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "f", "x")
	s.hostLink(t, "f", "l")
	fsys := s.fs
	const a, m = int64(1_000_000_123), int64(2_000_000_456)
	ok(t, "Utimens", fsys.Utimens("f", a, m))
	st, _ := fsys.Stat("f")
	if st.Atim != a || st.Mtim != m {
		t.Errorf("times %d/%d, want %d/%d", st.Atim, st.Mtim, a, m)
	}
	ok(t, "Utimens omit atim", fsys.Utimens("f", xsys.UTIME_OMIT, 5e9))
	st, _ = fsys.Stat("f")
	if st.Atim != a || st.Mtim != 5e9 {
		t.Errorf("omit atim: %d/%d", st.Atim, st.Mtim)
	}
	ok(t, "Utimens omit mtim", fsys.Utimens("f", 6e9, xsys.UTIME_OMIT))
	st, _ = fsys.Stat("f")
	if st.Atim != 6e9 || st.Mtim != 5e9 {
		t.Errorf("omit mtim: %d/%d", st.Atim, st.Mtim)
	}
	ok(t, "Utimens omit both", fsys.Utimens("f", xsys.UTIME_OMIT, xsys.UTIME_OMIT))
	// Through a symlink, the target changes.
	ok(t, "Utimens via link", fsys.Utimens("l", 7e9, 8e9))
	st, _ = fsys.Stat("f")
	if st.Atim != 7e9 || st.Mtim != 8e9 {
		t.Errorf("via link: %d/%d", st.Atim, st.Mtim)
	}
	wantErrno(t, "Utimens missing", fsys.Utimens("nope", 0, 0), xsys.ENOENT)
	// Before 1970 works too.
	ok(t, "Utimens negative", fsys.Utimens("f", -1_500_000_000, xsys.UTIME_OMIT))
	st, _ = fsys.Stat("f")
	if st.Atim != -1_500_000_000 {
		t.Errorf("negative atim %d", st.Atim)
	}

	f, errno := fsys.OpenFile("f", xsys.O_RDONLY, 0)
	ok(t, "open", errno)
	defer f.Close()
	errno = f.Utimens(9e9, xsys.UTIME_OMIT)
	if errno == xsys.ENOSYS && runtime.GOOS != "linux" {
		t.Skip("no futimens here; wazero falls back to the path")
	}
	ok(t, "File.Utimens", errno)
	ok(t, "File.Utimens omit", f.Utimens(xsys.UTIME_OMIT, 10e9))
	st, _ = f.Stat()
	if st.Atim != 9e9 || st.Mtim != 10e9 {
		t.Errorf("File.Utimens: %d/%d", st.Atim, st.Mtim)
	}
	// The same through a directory descriptor.
	d, errno := fsys.OpenFile(".", xsys.O_RDONLY, 0)
	ok(t, "open .", errno)
	defer d.Close()
	ok(t, "dir Utimens", d.Utimens(xsys.UTIME_OMIT, 11e9))
	if fi, _ := os.Stat(s.tree); fi.ModTime() != time.Unix(11, 0) {
		t.Errorf("dir mtime %v", fi.ModTime())
	}
}

func TestChmod(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "f", "x")
	ok(t, "Chmod", s.fs.Chmod("f", 0o604))
	st, _ := s.fs.Stat("f")
	if st.Mode.Perm() != 0o604 {
		t.Errorf("mode %v", st.Mode)
	}
	wantErrno(t, "Chmod missing", s.fs.Chmod("nope", 0o600), xsys.ENOENT)
}

func TestClosedFS(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "f", "x")
	f, errno := s.fs.OpenFile("f", xsys.O_RDONLY, 0)
	ok(t, "open", errno)
	defer f.Close()
	if err := s.fs.Close(); err != nil {
		t.Fatal(err)
	}
	_, errno = s.fs.OpenFile("f", xsys.O_RDONLY, 0)
	wantErrno(t, "open after Close", errno, xsys.EBADF)
	_, errno = s.fs.Stat("f")
	wantErrno(t, "Stat after Close", errno, xsys.EBADF)
	// Files already open stay usable.
	if got := readAll(t, f); got != "x" {
		t.Errorf("read %q", got)
	}
}

// Where os.Root resolves names (every platform but Linux, whose kernel
// enforces O_NOFOLLOW itself), sameAsNamed catches a name that changed
// between openRoot's Lstat and the open itself (the race that O_NOFOLLOW
// must survive, since os.Root follows a final symlink regardless).
func TestNoFollowSwapDetected(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "a", "a")
	s.hostFile(t, "b", "b")
	a, err := os.Lstat(filepath.Join(s.tree, "a"))
	mustDo(t, err)
	b, err := os.Stat(filepath.Join(s.tree, "b"))
	mustDo(t, err)
	lstA := sys.NewStat_t(a)
	// Lstat saw a; the open got b (as if a became a symlink to b).
	if s.fs.sameAsNamed("a", &lstA, b) {
		t.Error("a swapped for b: sameAsNamed says the same")
	}
	if !s.fs.sameAsNamed("a", &lstA, a) {
		t.Error("a unchanged: sameAsNamed says it differs")
	}
	// Nothing was there before; what was created must be what the name
	// names now, not a link's target.
	s.hostLink(t, "b", "c")
	if s.fs.sameAsNamed("c", nil, b) {
		t.Error("created through a link: sameAsNamed says the same")
	}
	if !s.fs.sameAsNamed("b", nil, b) {
		t.Error("created: sameAsNamed says it differs")
	}
}
