//go:build linux

package capfs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	xsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"

	"github.com/isle-run/isle/api"
)

// These tests come from an outside review of the openat2 fast path
// (beneath_linux.go): a host racing the guest's walks, and every open
// compared with os.Root's.

// raceRounds is how many rounds of stats and opens race the host's swaps.
const raceRounds = 1500

// exchanger atomically swaps two names in a loop (RENAME_EXCHANGE), so at
// every instant one of them is the directory and the other the symlink.
func exchanger(t *testing.T, a, b string, stop *atomic.Bool, wg *sync.WaitGroup, swaps *atomic.Int64) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("exchange: %v", err)
				return
			}
			swaps.Add(1)
		}
	}()
}

// A racing host: a directory on the (plain) path is atomically exchanged with
// a symlink out of the tree (absolute and relative), one and three levels
// deep. Stat, Lstat and every kind of open must never see or touch the
// outside.
func TestRacingHostCannotLeadTheFastPathOut(t *testing.T) {
	for _, tc := range []struct{ prefix, target string }{
		{"", "../out"},
		{"", "ABS"},
		{"a/b/", "../../../out"},
		{"a/b/", "ABS"},
	} {
		t.Run(tc.prefix+tc.target, func(t *testing.T) {
			s := newSandbox(t, ReadWrite)
			s.hostFile(t, tc.prefix+"d/f", "inside\n")
			target := tc.target
			if target == "ABS" {
				target = filepath.Join(s.base, "out")
			}
			s.hostLink(t, target, tc.prefix+"dl")
			f := s.open(t, ReadWrite)
			outFi, err := os.Stat(filepath.Join(s.base, "out", "f"))
			mustDo(t, err)
			outIno := inoOf(outFi)
			secFi, err := os.Stat(filepath.Join(s.base, "secret"))
			mustDo(t, err)

			var stop atomic.Bool
			var wg sync.WaitGroup
			var swaps atomic.Int64
			exchanger(t, filepath.Join(s.tree, tc.prefix+"d"), filepath.Join(s.tree, tc.prefix+"dl"), &stop, &wg, &swaps)

			name := tc.prefix + "d/f"
			var stats, inside, refused int
			for range raceRounds {
				for _, follow := range []bool{false, true} {
					var st sys.Stat_t
					var errno xsys.Errno
					if follow {
						st, errno = f.Stat(name)
					} else {
						st, errno = f.Lstat(name)
					}
					if errno == 0 {
						stats++
					}
					if errno == 0 && (st.Ino == sys.Inode(outIno) || st.Ino == sys.Inode(inoOf(secFi))) {
						stop.Store(true)
						wg.Wait()
						t.Fatalf("stat (follow %v) of %s saw the outside file (ino %d)", follow, name, st.Ino)
					}
				}
				for _, flag := range []xsys.Oflag{
					xsys.O_RDONLY, xsys.O_RDONLY | xsys.O_NOFOLLOW, xsys.O_RDWR,
					xsys.O_WRONLY | xsys.O_APPEND,
				} {
					file, errno := f.OpenFile(name, flag, 0)
					if errno != 0 {
						refused++
						continue
					}
					st, _ := file.Stat()
					buf := make([]byte, 64)
					n, _ := file.Pread(buf, 0)
					file.Close()
					if st.Ino == sys.Inode(outIno) || (n > 0 && string(buf[:n]) != "inside\n") {
						stop.Store(true)
						wg.Wait()
						t.Fatalf("open %s (flag %#x) reached the outside: %q", name, flag, buf[:n])
					}
					inside++
				}
				// A create through the racing directory must not land outside.
				nf, errno := f.OpenFile(tc.prefix+"d/new", xsys.O_WRONLY|xsys.O_CREAT, 0o600)
				if errno == 0 {
					nf.Close()
				}
			}
			stop.Store(true)
			wg.Wait()
			t.Logf("%d swaps, %d stats answered, %d opens inside, %d refused", swaps.Load(), stats, inside, refused)
			if swaps.Load() == 0 {
				t.Fatalf("the host never swapped the directory in %d rounds: nothing raced", raceRounds)
			}
			if _, err := os.Lstat(filepath.Join(s.base, "out", "new")); err == nil {
				t.Errorf("a create through the racing directory landed outside")
			}
			s.untouched(t)
		})
	}
}

// layout lays out the same tree in dir for the fast/slow comparison.
func layout(t *testing.T, dir string) {
	t.Helper()
	w := func(name, content string, perm os.FileMode) {
		p := filepath.Join(dir, name)
		mustDo(t, os.MkdirAll(filepath.Dir(p), 0o755))
		mustDo(t, os.WriteFile(p, []byte(content), perm))
	}
	w("file", "hello\n", 0o644)
	w("dir/file", "deep\n", 0o644)
	w("ro", "readonly\n", 0o444)
	mustDo(t, os.Mkdir(filepath.Join(dir, "emptydir"), 0o755))
	mustDo(t, os.Mkdir(filepath.Join(dir, "rodir"), 0o555))
	mustDo(t, os.Symlink("file", filepath.Join(dir, "link")))
	mustDo(t, os.Symlink("dir", filepath.Join(dir, "dirlink")))
	mustDo(t, os.Symlink("nowhere", filepath.Join(dir, "dangling")))
	mustDo(t, os.Symlink("../secret", filepath.Join(dir, "out")))
	mustDo(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
}

// twinTrees lays out two like trees (layout) beside a secret and opens
// them with rights: walk resolves names as capfs does, ref through
// os.Root alone, the reference. Both close when the test ends.
func twinTrees(t *testing.T, rights api.Rights) (walk, ref *FS, walkDir, refDir, base string) {
	t.Helper()
	base = t.TempDir()
	mustDo(t, os.WriteFile(filepath.Join(base, "secret"), []byte(secretText), 0o644))
	walkDir, refDir = filepath.Join(base, "walk"), filepath.Join(base, "ref")
	mustDo(t, os.Mkdir(walkDir, 0o755))
	mustDo(t, os.Mkdir(refDir, 0o755))
	layout(t, walkDir)
	layout(t, refDir)
	walk, err := Open(walkDir, rights)
	mustDo(t, err)
	ref, err = Open(refDir, rights)
	mustDo(t, err)
	ref.fast.close()
	ref.fast = nil
	t.Cleanup(func() { walk.Close(); ref.Close() })
	return walk, ref, walkDir, refDir, base
}

// fullTreeState summarises a tree: every name with its type, permissions,
// size, content or link target, and whether its time is setTime, so two
// trees can be compared.
func fullTreeState(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	mustDo(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := fmt.Sprintf("%s %v %d", rel, fi.Mode(), fi.Size())
		switch {
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			line += " " + string(b)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		}
		if fi.ModTime().UnixNano() == setTime {
			line += " (set)"
		}
		lines = append(lines, line)
		return nil
	}))
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// OpenFile through the fast path answers exactly as OpenFile with the fast
// path off (os.Root alone): every access mode and flag combination, every
// kind of name, under several rights; errno, what was opened, and the
// tree afterwards.
func TestOpenFileAnswersAsOSRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Log("running as root: permission-bit cases are moot")
	}
	names := []string{".", "file", "dir", "dir/file", "ro", "emptydir", "rodir", "rodir/new", "link", "dirlink",
		"dangling", "out", "fifo", "missing", "dir/missing", "missing/x", "file/x", "dirlink/file", "dir/", "./file"}
	extra := []xsys.Oflag{xsys.O_CREAT, xsys.O_EXCL, xsys.O_TRUNC, xsys.O_APPEND, xsys.O_DIRECTORY,
		xsys.O_NOFOLLOW, xsys.O_NONBLOCK, xsys.O_SYNC}
	for _, rights := range []api.Rights{ReadWrite, ReadOnly, api.RightWrite | api.RightCreate, api.RightRead | api.RightWrite} {
		t.Run(fmt.Sprintf("rights%#x", uint32(rights)), func(t *testing.T) {
			fast, slow, fastDir, slowDir, _ := twinTrees(t, rights)
			defer os.Chmod(filepath.Join(fastDir, "rodir"), 0o755)
			defer os.Chmod(filepath.Join(slowDir, "rodir"), 0o755)
			n, diffs := 0, 0
			for _, access := range []xsys.Oflag{xsys.O_RDONLY, xsys.O_WRONLY, xsys.O_RDWR} {
				for bits := 0; bits < 1<<len(extra); bits++ {
					flag := access
					for i, e := range extra {
						if bits&(1<<i) != 0 {
							flag |= e
						}
					}
					for _, name := range names {
						n++
						a, ea := fast.OpenFile(name, flag, 0o640)
						b, eb := slow.OpenFile(name, flag, 0o640)
						desc := func(f xsys.File) string {
							if f == nil {
								return "-"
							}
							st, _ := f.Stat()
							d, _ := f.IsDir()
							buf := make([]byte, 32)
							k, _ := f.Pread(buf, 0)
							return fmt.Sprintf("%v size %d dir %v append %v read %q", st.Mode, st.Size, d, f.IsAppend(), buf[:k])
						}
						da, db := desc(a), desc(b)
						if a != nil {
							a.Close()
						}
						if b != nil {
							b.Close()
						}
						if ea != eb || da != db {
							diffs++
							if diffs < 20 {
								t.Errorf("OpenFile(%q, %#x): fast %v %s; os.Root %v %s", name, flag, ea, da, eb, db)
							}
						}
					}
					if sa, sb := fullTreeState(t, fastDir), fullTreeState(t, slowDir); sa != sb {
						t.Fatalf("trees differ after flag %#x:\nfast:\n%s\nslow:\n%s", flag, sa, sb)
					}
				}
			}
			t.Logf("%d opens compared, %d differ", n, diffs)
		})
	}
}

// Chmod of a name that a racing guest (or the host) keeps swapping
// between a file and a symlink out of the tree changes only files inside.
// Before, fchmodat2 refused the link, a second look saw the file, and the
// fallback fchmodat followed the link swapped back in: the secret outside
// became 0600 within 2,000 to 91,000 chmods (found in review).
func TestChmodRaceStaysInside(t *testing.T) {
	for _, mode := range []string{"host-exchange", "guest-link-rename"} {
		t.Run(mode, func(t *testing.T) {
			s := newSandbox(t, ReadWrite)
			s.hostFile(t, "F", "file\n")
			s.hostFile(t, "f", "file\n")
			s.hostLink(t, "../secret", "L")
			s.hostLink(t, "../secret", "g")
			fsys := s.open(t, ReadWrite)
			var stop atomic.Bool
			var wg sync.WaitGroup
			var swaps atomic.Int64
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					if mode == "host-exchange" {
						_ = unix.Renameat2(unix.AT_FDCWD, filepath.Join(s.tree, "f"), unix.AT_FDCWD, filepath.Join(s.tree, "g"), unix.RENAME_EXCHANGE)
					} else {
						_ = fsys.Link("L", "t1")
						_ = fsys.Rename("t1", "f")
						_ = fsys.Link("F", "t2")
						_ = fsys.Rename("t2", "f")
					}
					swaps.Add(1)
				}
			}()
			for i := range 10 * raceRounds {
				_ = fsys.Chmod("f", os.FileMode(0o600|(i%2)<<6))
			}
			stop.Store(true)
			wg.Wait()
			fi, err := os.Stat(filepath.Join(s.base, "secret"))
			mustDo(t, err)
			if fi.Mode().Perm() != 0o644 {
				t.Fatalf("Chmod changed the secret outside the tree to %v (%d swaps)", fi.Mode(), swaps.Load())
			}
			t.Logf("%d chmods against %d swaps", 10*raceRounds, swaps.Load())
		})
	}
}
