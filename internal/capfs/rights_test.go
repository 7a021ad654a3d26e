package capfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	xsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/isle-run/isle/api"
)

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	mustDo(t, os.WriteFile(file, nil, 0o644))
	for _, c := range []struct {
		dir    string
		rights api.Rights
		want   string
	}{
		{filepath.Join(dir, "missing"), ReadOnly, "no such file"},
		{file, ReadOnly, "not a directory"},
		{dir, 0, "invalid rights"},
		{dir, 1 << 6, "invalid rights"},
	} {
		f, err := Open(c.dir, c.rights)
		if err == nil {
			f.Close()
			t.Errorf("Open(%q, %v) succeeded", c.dir, c.rights)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q, %v) = %v, want %q", c.dir, c.rights, err, c.want)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing"), ReadOnly); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory error %v does not wrap ErrNotExist", err)
	}
}

// roTree lays out a tree and snapshots it so a test can check that a
// refused operation changed nothing inside either.
func roTree(t *testing.T, rights api.Rights) (*sandbox, func()) {
	s := newSandbox(t, rights)
	s.hostFile(t, "f", "content")
	s.hostFile(t, "d/g", "g")
	mustDo(t, os.Mkdir(filepath.Join(s.tree, "empty"), 0o755))
	s.hostLink(t, "f", "l")
	s.fs = s.open(t, rights)
	before := treeState(t, s.tree)
	return s, func() {
		t.Helper()
		if after := treeState(t, s.tree); after != before {
			t.Errorf("tree changed:\n%s\n->\n%s", before, after)
		}
	}
}

// treeState is a textual fingerprint of everything under dir.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		content := ""
		if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			content = string(c)
		}
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(rel + " " + fi.Mode().String() + " " + fi.ModTime().String() + " " + content + "\n")
		return nil
	})
	mustDo(t, err)
	return b.String()
}

func TestReadOnlyRefusals(t *testing.T) {
	t.Parallel()
	s, unchanged := roTree(t, ReadOnly)
	fsys := s.fs
	const rofs = xsys.EROFS
	for _, c := range []struct {
		name string
		flag xsys.Oflag
		want xsys.Errno
	}{
		{"new", xsys.O_RDWR | xsys.O_CREAT, rofs},
		{"new", xsys.O_RDONLY | xsys.O_CREAT, rofs},
		{"new", xsys.O_WRONLY | xsys.O_CREAT | xsys.O_EXCL, rofs},
		{"f", xsys.O_RDONLY | xsys.O_CREAT | xsys.O_EXCL, rofs},
		{"f", xsys.O_WRONLY, rofs},
		{"f", xsys.O_RDWR, rofs},
		{"f", xsys.O_RDONLY | xsys.O_TRUNC, rofs},
		{"f", xsys.O_WRONLY | xsys.O_APPEND, rofs},
		{"l", xsys.O_WRONLY, rofs},
		// A create in a missing directory fails as it would anywhere.
		{"nodir/new", xsys.O_RDONLY | xsys.O_CREAT, xsys.ENOENT},
	} {
		_, errno := fsys.OpenFile(c.name, c.flag, 0o644)
		wantErrno(t, "OpenFile "+c.name, errno, c.want)
	}
	wantErrno(t, "Mkdir", fsys.Mkdir("newdir", 0o755), rofs)
	wantErrno(t, "Rename", fsys.Rename("f", "f2"), rofs)
	wantErrno(t, "Unlink", fsys.Unlink("f"), rofs)
	wantErrno(t, "Rmdir", fsys.Rmdir("empty"), rofs)
	wantErrno(t, "Link", fsys.Link("f", "f2"), rofs)
	wantErrno(t, "Symlink", fsys.Symlink("f", "l2"), rofs)
	wantErrno(t, "Chmod", fsys.Chmod("f", 0o777), rofs)
	wantErrno(t, "Utimens", fsys.Utimens("f", 1e9, 1e9), rofs)
	wantErrno(t, "Utimens omit", fsys.Utimens("f", xsys.UTIME_OMIT, xsys.UTIME_OMIT), rofs)

	// What a read-only capability is for still works.
	got, errno := openRead(t, fsys, "f")
	ok(t, "read f", errno)
	if got != "content" {
		t.Errorf("f = %q", got)
	}
	// O_CREAT on an existing file creates nothing, so it is allowed, as on
	// a read-only mount.
	f, errno := fsys.OpenFile("f", xsys.O_RDONLY|xsys.O_CREAT, 0o644)
	ok(t, "open existing f with O_CREAT", errno)
	// The descriptor is read-only and carries no write right.
	_, errno = f.Write([]byte("x"))
	wantErrno(t, "Write", errno, xsys.EBADF)
	_, errno = f.Pwrite([]byte("x"), 0)
	wantErrno(t, "Pwrite", errno, xsys.EBADF)
	wantErrno(t, "Truncate", f.Truncate(0), rofs)
	wantErrno(t, "File.Utimens", f.Utimens(1e9, 1e9), rofs)
	ok(t, "Close", f.Close())

	d, errno := fsys.OpenFile(".", xsys.O_RDONLY|xsys.O_DIRECTORY, 0)
	ok(t, "open .", errno)
	if got := names(listDir(t, d, 2)); got != "d,empty,f,l" {
		t.Errorf("Readdir = %q", got)
	}
	wantErrno(t, "dir Utimens", d.Utimens(1e9, 1e9), rofs)
	ok(t, "Close dir", d.Close())
	if target, errno := fsys.Readlink("l"); errno != 0 || target != "f" {
		t.Errorf("Readlink = %q, %v", target, errno)
	}
	_, errno = fsys.Stat("d/g")
	ok(t, "Stat", errno)
	unchanged()
}

// A capability with some mutating rights but not the one needed answers
// EACCES, keeping EROFS for "nothing may change" and EPERM for escapes.
func TestIndividualRights(t *testing.T) {
	t.Parallel()
	t.Run("no create or delete", func(t *testing.T) {
		s, unchanged := roTree(t, api.RightRead|api.RightWrite)
		fsys := s.fs
		_, errno := fsys.OpenFile("new", xsys.O_RDWR|xsys.O_CREAT, 0o644)
		wantErrno(t, "create", errno, xsys.EACCES)
		wantErrno(t, "Mkdir", fsys.Mkdir("nd", 0o755), xsys.EACCES)
		wantErrno(t, "Symlink", fsys.Symlink("f", "l2"), xsys.EACCES)
		wantErrno(t, "Link", fsys.Link("f", "f2"), xsys.EACCES)
		wantErrno(t, "Unlink", fsys.Unlink("f"), xsys.EACCES)
		wantErrno(t, "Rmdir", fsys.Rmdir("empty"), xsys.EACCES)
		wantErrno(t, "Rename", fsys.Rename("f", "f2"), xsys.EACCES)
		unchanged()
		// Editing an existing file is what this capability is for; O_CREAT
		// on it is fine since nothing is created.
		f, errno := fsys.OpenFile("f", xsys.O_WRONLY|xsys.O_CREAT|xsys.O_TRUNC, 0o644)
		ok(t, "open f for writing", errno)
		_, errno = f.Write([]byte("edited"))
		ok(t, "Write", errno)
		f.Close()
		if b, _ := os.ReadFile(filepath.Join(s.tree, "f")); string(b) != "edited" {
			t.Errorf("f = %q", b)
		}
	})
	t.Run("no write", func(t *testing.T) {
		s, unchanged := roTree(t, api.RightRead|api.RightCreate|api.RightDelete)
		fsys := s.fs
		_, errno := fsys.OpenFile("f", xsys.O_WRONLY, 0)
		wantErrno(t, "open for write", errno, xsys.EACCES)
		wantErrno(t, "Chmod", fsys.Chmod("f", 0o600), xsys.EACCES)
		wantErrno(t, "Utimens", fsys.Utimens("f", 0, 0), xsys.EACCES)
		unchanged()
		ok(t, "Mkdir", fsys.Mkdir("nd", 0o755))
		ok(t, "Unlink", fsys.Unlink("f"))
	})
	t.Run("no read", func(t *testing.T) {
		s, unchanged := roTree(t, api.RightWrite|api.RightCreate)
		fsys := s.fs
		_, errno := fsys.OpenFile("f", xsys.O_RDONLY, 0)
		wantErrno(t, "open for read", errno, xsys.EACCES)
		_, errno = fsys.OpenFile("f", xsys.O_RDWR, 0)
		wantErrno(t, "open read-write", errno, xsys.EACCES)
		_, errno = fsys.OpenFile("f", xsys.O_RDWR|xsys.O_TRUNC, 0)
		wantErrno(t, "open read-write and truncate", errno, xsys.EACCES)
		_, errno = fsys.OpenFile("new", xsys.O_RDWR|xsys.O_CREAT, 0o644)
		wantErrno(t, "create read-write", errno, xsys.EACCES)
		_, errno = fsys.OpenFile("l", xsys.O_RDONLY, 0)
		wantErrno(t, "open link for read", errno, xsys.EACCES)
		_, errno = fsys.Readlink("l")
		wantErrno(t, "Readlink", errno, xsys.EACCES)
		// wazero opens the mount root O_RDONLY and must get it; listing
		// it is what needs the read right.
		d, errno := fsys.OpenFile(".", xsys.O_RDONLY, 0)
		ok(t, "open .", errno)
		_, errno = d.Readdir(-1)
		wantErrno(t, "Readdir", errno, xsys.EACCES)
		d.Close()
		unchanged()
		f, errno := fsys.OpenFile("drop", xsys.O_WRONLY|xsys.O_CREAT|xsys.O_EXCL, 0o644)
		ok(t, "create drop", errno)
		_, errno = f.Read(make([]byte, 1))
		wantErrno(t, "Read write-only", errno, xsys.EBADF)
		f.Close()
	})
}
