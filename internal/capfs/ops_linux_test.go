package capfs

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	xsys "github.com/tetratelabs/wazero/experimental/sys"
)

// Every operation but open and stat (TestOpenFileAnswersAsOSRoot,
// TestStatAnswersAsOSRoot) answers as os.Root does, on every kind of name:
// its errno, and the tree afterwards, times and link targets included.
// Where they differ, on names with a trailing slash that os.Root's
// reference cleans away, the walk gives Linux's own answer (linuxAnswers).
func TestOperationsAnswerAsOSRoot(t *testing.T) {
	names := []string{".", "file", "dir", "dir/file", "ro", "emptydir", "link", "dirlink", "dangling", "out",
		"fifo", "missing", "dir/missing", "missing/x", "file/x", "dirlink/file", "dirlink/", "dir/", "emptydir/",
		"./file", "dir/../file", "dirlink/../file", "file/", "link/", "dir/.", "new", "new/"}
	const when = setTime
	ops := map[string]func(f *FS, name string) string{
		"mkdir":    func(f *FS, n string) string { return fmt.Sprint(f.Mkdir(n, 0o700)) },
		"rmdir":    func(f *FS, n string) string { return fmt.Sprint(f.Rmdir(n)) },
		"unlink":   func(f *FS, n string) string { return fmt.Sprint(f.Unlink(n)) },
		"chmod":    func(f *FS, n string) string { return fmt.Sprint(f.Chmod(n, 0o600)) },
		"utimens":  func(f *FS, n string) string { return fmt.Sprint(f.Utimens(n, when, when)) },
		"lutimens": func(f *FS, n string) string { return fmt.Sprint(f.Lutimens(n, when, xsys.UTIME_OMIT)) },
		"readlink": func(f *FS, n string) string { s, e := f.Readlink(n); return s + " " + fmt.Sprint(e) },
		"symlink":  func(f *FS, n string) string { return fmt.Sprint(f.Symlink("file", n)) },
		"renameFrom": func(f *FS, n string) string {
			return fmt.Sprint(f.Rename(n, "emptydir/moved"))
		},
		"renameOnto": func(f *FS, n string) string { return fmt.Sprint(f.Rename("emptydir", n)) },
		"renameFile": func(f *FS, n string) string { return fmt.Sprint(f.Rename("ro", n)) },
		"linkFrom":   func(f *FS, n string) string { return fmt.Sprint(f.Link(n, "emptydir/linked")) },
		"linkTo":     func(f *FS, n string) string { return fmt.Sprint(f.Link("file", n)) },
	}
	var opNames []string
	for op := range ops {
		opNames = append(opNames, op)
	}
	sort.Strings(opNames)
	n, diffs := 0, 0
	for _, op := range opNames {
		for _, name := range names {
			n++
			walk, ref, walkDir, refDir, base := twinTrees(t, ReadWrite)
			pristine := fullTreeState(t, refDir)
			got, want := ops[op](walk, name), ops[op](ref, name)
			sa, sb := fullTreeState(t, walkDir), fullTreeState(t, refDir)
			if linux, ok := linuxAnswers[op+" "+name]; ok {
				want, sb = linux, pristine // an error, which changes nothing
			}
			walk.Close()
			ref.Close()
			if got != want || sa != sb {
				diffs++
				t.Errorf("%s %q: %s, os.Root %s; trees:\n%s\nos.Root's:\n%s", op, name, got, want, sa, sb)
			}
			if secret, err := os.ReadFile(filepath.Join(base, "secret")); err != nil || string(secret) != secretText {
				t.Fatalf("%s %q changed the file outside: %q, %v", op, name, secret, err)
			}
		}
	}
	t.Logf("%d operations compared, %d differ", n, diffs)
}

// linuxAnswers are the answers Linux gives on the same names (checked
// with ln, touch -h and Python's os.rename, os.rmdir and os.unlink),
// where the reference cleans the trailing slash away, answers ENOTDIR
// first, or follows a symlink the kernel would not. Either way nothing
// outside the tree is touched, and the walk's tree is left as it was.
var linuxAnswers = map[string]string{
	"linkTo file/":   fmt.Sprint(xsys.EEXIST),
	"linkTo link/":   fmt.Sprint(xsys.EEXIST),
	"symlink file/":  fmt.Sprint(xsys.EEXIST),
	"symlink link/":  fmt.Sprint(xsys.EEXIST),
	"lutimens file/": fmt.Sprint(xsys.ENOTDIR),
	"lutimens link/": fmt.Sprint(xsys.ENOTDIR),
	// rename(2), rmdir(2) and unlink(2) follow no symlink at the end,
	// slash or not; a file renamed onto "d/" is ENOTDIR.
	"renameFile dir/":      fmt.Sprint(xsys.ENOTDIR),
	"renameFile emptydir/": fmt.Sprint(xsys.ENOTDIR),
	"renameFile dirlink/":  fmt.Sprint(xsys.ENOTDIR),
	"renameFrom dirlink/":  fmt.Sprint(xsys.ENOTDIR),
	"renameOnto dirlink/":  fmt.Sprint(xsys.ENOTDIR),
	"rmdir dirlink/":       fmt.Sprint(xsys.ENOTDIR),
	"unlink dirlink/":      fmt.Sprint(xsys.ENOTDIR),
	// POSIX's answer to a rename of ".": Linux says EBUSY, which wazero's
	// errnos cannot, and the reference EIO.
	"renameFrom .":     fmt.Sprint(xsys.EINVAL),
	"renameFrom dir/.": fmt.Sprint(xsys.EINVAL),
}

// setTime is the time TestOperationsAnswerAsOSRoot sets, 2001-09-09.
const setTime = 1_000_000_000_000_000_000
