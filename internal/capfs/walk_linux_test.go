package capfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/isle-run/isle/api"
)

// counter is a Charger that counts levels, and panics once it has been
// charged more than limit (if set), as a process out of fuel does.
type counter struct {
	levels, limit int
}

type outOfFuel struct{}

func (c *counter) ChargeLevels(n int) {
	c.levels += n
	if c.limit > 0 && c.levels > c.limit {
		panic(outOfFuel{})
	}
}

// The walk charges exactly what symlinks add to a name: a level for each
// "/" in a link's target and one more (so 4 KiB of "./" costs what it
// takes to scan, found in review), and a level for each name a ".."
// walks again from the root. A plain path is charged nothing here (its
// caller charges it).
func TestWalkChargesWhatSymlinksAdd(t *testing.T) {
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "a/b/c/f", "x")
	s.hostLink(t, "a/b/c", "down")                               // 3 names
	s.hostLink(t, "a/b/../b/c", "climb")                         // 5 names, and a ".." from a/b: 1 level again
	s.hostLink(t, "down", "twice")                               // 1 name, then down's 3
	s.hostLink(t, "c/f", "a/b/tofile")                           // 2 names
	s.hostLink(t, "../../secret", "a/out")                       // 3 names, then a ".." above the root
	s.hostLink(t, strings.Repeat("./", 1000)+"a//b/c", "padded") // charged its 1,003 "/" and 1
	s.hostLink(t, "a/b/.", "dotted")                             // 3: the "." is no level of its own
	f := s.open(t, ReadWrite)
	for _, tc := range []struct {
		name   string
		follow bool
		levels int
		errno  experimentalsys.Errno
	}{
		{"a/b/c/f", true, 0, 0},
		{"down/f", false, 3, 0},
		{"down", false, 0, 0},
		{"down", true, 3, 0},
		{"climb/f", false, 6, 0},
		{"twice/f", false, 4, 0},
		{"a/b/tofile", true, 2, 0},
		{"a/out", true, 3, experimentalsys.EPERM},
		{"down/../c/f", false, 3 + 2, 0},     // ".." from a/b/c walks a/b again
		{"padded/f", false, 1004, 0},         // what the scan costs, as a guest's own path
		{"dotted/../b/c/f", false, 3 + 1, 0}, // ".." from a/b to a walks a again
	} {
		c := &counter{}
		_, errno := f.WithCharger(c).statAt(tc.name, tc.follow)
		if errno != tc.errno || c.levels != tc.levels {
			t.Errorf("stat %q (follow %v): %v, %d levels charged; want %v, %d", tc.name, tc.follow, errno, c.levels, tc.errno, tc.levels)
		}
	}
	s.untouched(t)
}

// A charger that ends the call mid-walk (the guest out of fuel) leaves
// no descriptor open, whatever the call: a walk, a rename or a link
// (two walks, one inside the other).
func TestChargerPanicLeaksNothing(t *testing.T) {
	s := newSandbox(t, ReadWrite)
	deep := strings.Repeat("d/", 40)
	mustDo(t, os.MkdirAll(filepath.Join(s.tree, deep), 0o755))
	s.hostFile(t, deep+"f", "x")
	s.hostLink(t, strings.TrimSuffix(deep, "/"), "l")
	s.hostLink(t, "l/f", "lf")
	f := s.open(t, ReadWrite)
	calls := map[string]func(f *FS){
		"stat": func(f *FS) { f.Stat("l/f") },
		"open": func(f *FS) {
			if file, errno := f.OpenFile("lf", experimentalsys.O_RDONLY, 0); errno == 0 {
				file.Close()
			}
		},
		"rename": func(f *FS) { f.Rename("l/f", "l/g") },
		// A plain first name, which the kernel resolves in one openat2:
		// its directory was left open when the second walk ended the call
		// (found in review).
		"rename plain": func(f *FS) { f.Rename(deep+"f", "l/g") },
		"link plain":   func(f *FS) { f.Link(deep+"f", "l/h") },
		"link":         func(f *FS) { f.Link("l/../d/f", "l/h") },
		"chmod":        func(f *FS) { f.Chmod("lf", 0o600) },
	}
	if _, errno := f.Stat("."); errno != 0 { // opens the root directory
		t.Fatal(errno)
	}
	before := openFds(t)
	for name, call := range calls {
		for limit := 1; limit < 90; limit += 7 {
			func() {
				defer func() {
					if r := recover(); r != nil && r != (outOfFuel{}) {
						panic(r)
					}
				}()
				call(f.WithCharger(&counter{limit: limit}))
			}()
			if n := openFds(t); n != before {
				t.Fatalf("%s ended by its charger after %d levels: %d descriptors open, %d before", name, limit, n, before)
			}
		}
	}
}

// A ".." in a link deeper than the kernel's PATH_MAX reopens its
// directory from the root a chunk at a time.
func TestClimbBelowPathMax(t *testing.T) {
	s := newSandbox(t, api.RightRead)
	deep := strings.Repeat("dir-name-of-some-length/", 200) // 4,800 bytes
	r, err := os.OpenRoot(s.tree)
	mustDo(t, err)
	defer r.Close()
	mustDo(t, r.MkdirAll(deep+"x", 0o755))
	mustDo(t, r.WriteFile(deep+"x/f", []byte("deep"), 0o644))
	mustDo(t, r.Symlink("../x/f", deep+"x/up"))
	f := s.open(t, api.RightRead)
	st, errno := f.Stat(deep + "x/up")
	if errno != 0 || st.Size != 4 {
		t.Fatalf("stat through a climbing link %d bytes deep: %+v, %v; want the file of 4 bytes", len(deep), st, errno)
	}
}
