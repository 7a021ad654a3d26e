package capfs

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/isle-run/isle/api"
)

// slowStat is what Stat and Lstat answered before the fast path: os.Root
// alone.
func slowStat(f *FS, name string, follow bool) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := f.root.Lstat(name)
	if follow {
		fi, err = f.root.Stat(name)
	}
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Stat and Lstat answer every path as os.Root alone does: files,
// directories, a pipe, a setuid file, a sticky directory, symlinks inside
// and out of the root, absolute and dangling ones, missing names and
// names under a file. Plain paths take the openat2 fast path; a symlink
// on the way or, for Stat, at the end sends the call to os.Root.
func TestStatBeneathAnswersAsOSRoot(t *testing.T) {
	s := newSandbox(t, api.RightRead)
	tree := s.tree
	deep := filepath.Join(tree, strings.Repeat("d/", 16))
	mustDo(t, os.MkdirAll(deep, 0o755))
	mustDo(t, os.WriteFile(filepath.Join(deep, "f"), []byte("deep"), 0o644))
	mustDo(t, os.WriteFile(filepath.Join(tree, "file"), []byte("x"), 0o755))
	mustDo(t, os.Chmod(filepath.Join(tree, "file"), 0o755|os.ModeSetuid|os.ModeSetgid))
	mustDo(t, os.Mkdir(filepath.Join(tree, "sticky"), 0o1777))
	mustDo(t, os.Chmod(filepath.Join(tree, "sticky"), 0o1777|os.ModeSticky))
	mustDo(t, syscall.Mkfifo(filepath.Join(tree, "fifo"), 0o600))
	mustDo(t, os.Symlink("d/d", filepath.Join(tree, "in")))
	mustDo(t, os.Symlink("../secret", filepath.Join(tree, "out")))
	mustDo(t, os.Symlink(filepath.Join(s.base, "secret"), filepath.Join(tree, "abs")))
	mustDo(t, os.Symlink("nowhere", filepath.Join(tree, "dangling")))
	mustDo(t, os.Symlink("file", filepath.Join(tree, "tofile")))
	f := s.open(t, api.RightRead)

	plain := []string{".", "file", "sticky", "fifo", "d", "d/d", strings.Repeat("d/", 16) + "f",
		"in", "out", "abs", "dangling", "tofile", "missing", "d/missing", "missing/x", "file/x", "fifo/x"}
	other := []string{"in/d", "in/d/missing", "out/x", "abs/x", "dangling/x", "tofile/x",
		"d/..", "d/../file", "..", "../secret", "d/", "d//d", "./file", "nul\x00x"}
	for _, name := range append(plain, other...) {
		for _, follow := range []bool{false, true} {
			got, gotErr := f.Lstat(name)
			if follow {
				got, gotErr = f.Stat(name)
			}
			want, wantErr := slowStat(f, name, follow)
			if got != want || gotErr != wantErr {
				t.Errorf("stat %q (follow %v) = %+v, %v; os.Root answers %+v, %v", name, follow, got, gotErr, want, wantErr)
			}
		}
	}
	// The fast path must answer what it can, or the comparison above
	// proves nothing about it.
	for _, name := range plain {
		_, _, ok := f.statBeneath(name, false)
		if !ok {
			t.Errorf("Lstat %q went to os.Root; want the fast path", name)
		}
	}
	for _, name := range []string{"in/d", "out/x", "abs/x", "d/..", "d//d", "tofile"} {
		follow := name == "tofile"
		if _, _, ok := f.statBeneath(name, follow); ok {
			t.Errorf("stat %q (follow %v) took the fast path; want os.Root", name, follow)
		}
	}
	mustDo(t, f.Close())
	if _, errno := f.Stat("file"); errno != experimentalsys.EBADF {
		t.Errorf("Stat after Close = %v, want EBADF", errno)
	}
}
