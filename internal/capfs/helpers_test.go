package capfs

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/isle-run/isle/api"
)

const secretText = "top secret, outside the capability\n"

// sandbox is a temp directory holding a capability root (tree) and, next
// to it, things the capability must never reach: a secret file and a
// directory (out) with a file named like one inside.
type sandbox struct {
	base, tree string
	fs         *FS
	before     map[string]entry
}

// entry is what we remember of a host file outside the tree.
type entry struct {
	mode    fs.FileMode
	size    int64
	mtime   int64
	nlink   uint64
	content string
}

func newSandbox(t *testing.T, rights api.Rights) *sandbox {
	t.Helper()
	base := t.TempDir()
	tree := filepath.Join(base, "tree")
	mustDo(t, os.Mkdir(tree, 0o755))
	mustDo(t, os.WriteFile(filepath.Join(base, "secret"), []byte(secretText), 0o644))
	mustDo(t, os.Mkdir(filepath.Join(base, "out"), 0o755))
	mustDo(t, os.WriteFile(filepath.Join(base, "out", "f"), []byte("outside\n"), 0o644))
	s := &sandbox{base: base, tree: tree}
	s.fs = s.open(t, rights)
	return s
}

// open opens tree as a capability after the test has laid it out, and
// remembers the outside so untouched can compare.
func (s *sandbox) open(t *testing.T, rights api.Rights) *FS {
	t.Helper()
	if s.fs != nil {
		_ = s.fs.Close()
	}
	f, err := Open(s.tree, rights)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = f.Close() })
	s.fs = f
	s.before = s.snapshot(t)
	return f
}

// snapshot records everything under base except the tree itself.
func (s *sandbox) snapshot(t *testing.T) map[string]entry {
	t.Helper()
	m := map[string]entry{}
	err := filepath.WalkDir(s.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == s.tree {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := entry{mode: fi.Mode(), size: fi.Size(), mtime: fi.ModTime().UnixNano(), nlink: nlink(fi)}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.content = string(b)
		}
		m[p] = e
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return m
}

// untouched fails the test if anything outside the tree was created,
// removed or changed (content, size, mode, mtime or link count).
func (s *sandbox) untouched(t *testing.T) {
	t.Helper()
	after := s.snapshot(t)
	for p, a := range after {
		b, ok := s.before[p]
		if !ok {
			t.Errorf("outside the tree, %s appeared", p)
		} else if a != b {
			t.Errorf("outside the tree, %s changed: %+v -> %+v", p, b, a)
		}
	}
	for p := range s.before {
		if _, ok := after[p]; !ok {
			t.Errorf("outside the tree, %s disappeared", p)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(s.base, "secret")); string(b) != secretText {
		t.Errorf("secret changed: %q", b)
	}
}

// hostFile writes a file inside the tree, as the host.
func (s *sandbox) hostFile(t *testing.T, name, content string) {
	t.Helper()
	p := filepath.Join(s.tree, name)
	mustDo(t, os.MkdirAll(filepath.Dir(p), 0o755))
	mustDo(t, os.WriteFile(p, []byte(content), 0o644))
}

// hostLink makes a symlink inside the tree, as the host.
func (s *sandbox) hostLink(t *testing.T, target, name string) {
	t.Helper()
	mustDo(t, os.Symlink(target, filepath.Join(s.tree, name)))
}

func nlink(fi fs.FileInfo) uint64 { return sys.NewStat_t(fi).Nlink }

func inoOf(fi fs.FileInfo) uint64 { return sys.NewStat_t(fi).Ino }

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErrno fails unless got is want.
func wantErrno(t *testing.T, what string, got, want experimentalsys.Errno) {
	t.Helper()
	if got != want {
		t.Errorf("%s: errno %v (%d), want %v (%d)", what, got, got, want, want)
	}
}

// ok fails on any errno.
func ok(t *testing.T, what string, errno experimentalsys.Errno) {
	t.Helper()
	if errno != 0 {
		t.Fatalf("%s: %v", what, errno)
	}
}

// readAll reads a File to its end the way fd_read does, in chunks.
func readAll(t *testing.T, f experimentalsys.File) string {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 7)
	for {
		n, errno := f.Read(buf)
		ok(t, "Read", errno)
		if n == 0 {
			return out.String()
		}
		out.Write(buf[:n])
	}
}

// openRead opens name read-only and returns its content.
func openRead(t *testing.T, fsys *FS, name string) (string, experimentalsys.Errno) {
	t.Helper()
	f, errno := fsys.OpenFile(name, experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		return "", errno
	}
	defer f.Close()
	return readAll(t, f), 0
}

// listDir lists a directory through Readdir with small batches, as
// wazero's DirentCache does, and returns the sorted names.
func listDir(t *testing.T, d experimentalsys.File, batch int) []experimentalsys.Dirent {
	t.Helper()
	var all []experimentalsys.Dirent
	for {
		ents, errno := d.Readdir(batch)
		ok(t, "Readdir", errno)
		all = append(all, ents...)
		if len(ents) < batch {
			break
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all
}

func names(ents []experimentalsys.Dirent) string {
	var n []string
	for _, e := range ents {
		n = append(n, e.Name)
	}
	return strings.Join(n, ",")
}
