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

// Stat and Lstat answer every path as os.Root alone does (run as root;
// see doc.go for the one difference, on search-only directories): files,
// directories, a pipe, a setuid file, a sticky directory, symlinks inside
// and out of the root, absolute and dangling ones, missing names and
// names under a file. Plain paths take openat2; a symlink on the way or,
// for Stat, at the end sends the call to the walk.
func TestStatAnswersAsOSRoot(t *testing.T) {
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
	mustDo(t, f.Close())
	if _, errno := f.Stat("file"); errno != experimentalsys.EBADF {
		t.Errorf("Stat after Close = %v, want EBADF", errno)
	}
}

// capfs resolves names itself on Linux: with os.Root closed under it,
// plain paths and paths through symlinks still answer.
func TestNamesResolveWithoutOSRoot(t *testing.T) {
	s := newSandbox(t, ReadWrite)
	mustDo(t, os.MkdirAll(filepath.Join(s.tree, "d", "e"), 0o755))
	mustDo(t, os.WriteFile(filepath.Join(s.tree, "d", "e", "f"), []byte("deep"), 0o644))
	mustDo(t, os.Symlink("d/e", filepath.Join(s.tree, "link")))
	f := s.open(t, ReadWrite)
	if _, errno := f.Stat("."); errno != 0 { // opens the fast path's root
		t.Fatal(errno)
	}
	mustDo(t, f.root.Close())
	for _, name := range []string{"d/e/f", "d/e", "."} {
		if _, errno := f.Stat(name); errno != 0 {
			t.Errorf("Stat %q with os.Root closed: %v; want the fast path to answer", name, errno)
		}
	}
	file, errno := f.OpenFile("d/e/f", experimentalsys.O_RDONLY|experimentalsys.O_NOFOLLOW, 0)
	if errno != 0 {
		t.Fatalf("OpenFile d/e/f with os.Root closed: %v; want the fast path to open it", errno)
	}
	buf := make([]byte, 8)
	if n, errno := file.Read(buf); errno != 0 || string(buf[:n]) != "deep" {
		t.Errorf("read %q, %v from the fast path's file; want \"deep\"", buf[:n], errno)
	}
	file.Close()
	created, errno := f.OpenFile("d/new", experimentalsys.O_WRONLY|experimentalsys.O_CREAT|experimentalsys.O_EXCL, 0o640)
	if errno != 0 {
		t.Fatalf("create d/new with os.Root closed: %v; want the fast path to create it", errno)
	}
	created.Close()
	if fi, err := os.Stat(filepath.Join(s.tree, "d", "new")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("created d/new: %v, %v; want a file of mode 0640", fi, err)
	}
	// A symlink on the way is walked a level at a time.
	if _, errno := f.Stat("link/f"); errno != 0 {
		t.Errorf("Stat link/f with os.Root closed: %v; want the walk to answer", errno)
	}
	linked, errno := f.OpenFile("link/f", experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		t.Fatalf("OpenFile link/f with os.Root closed: %v; want the walk to open it", errno)
	}
	linked.Close()
	f.fast.close()
}

// A failure to open the root directory (the process out of descriptors
// for a moment) fails that call alone. Before, it turned the openat2 path
// off for good, for the FS and every view narrowed from it (found in
// review).
func TestTransientFailureIsTransient(t *testing.T) {
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "d/f", "x")
	f := s.open(t, ReadWrite)
	var errno experimentalsys.Errno
	outOfDescriptors(t, func() { _, errno = f.Stat("d/f") }) // the first use
	t.Logf("Stat while out of descriptors: %v", errno)
	if _, errno := f.Stat("d/f"); errno != 0 {
		t.Fatalf("Stat once descriptors are back: %v", errno)
	}
}

// outOfDescriptors runs do with the process out of descriptors: its
// RLIMIT_NOFILE lowered and filled with /dev/null, both undone after.
// Not for parallel tests.
func outOfDescriptors(t *testing.T, do func()) {
	t.Helper()
	var lim syscall.Rlimit
	mustDo(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	orig := lim
	lim.Cur = uint64(openFds(t) + 8)
	mustDo(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	var fill []int
	for {
		fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		fill = append(fill, fd)
	}
	do()
	for _, fd := range fill {
		syscall.Close(fd)
	}
	mustDo(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig))
}

// openFds counts the process's open descriptors.
func openFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
