package isle_test

import (
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// hostFDs counts the test process's open descriptors, and those open on
// the file at path.
func hostFDs(t *testing.T, path string) (all, on int) {
	t.Helper()
	const dir = "/proc/self/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && target == path {
			on++
		}
	}
	return len(ents), on
}

// hogDir is a directory holding the file "f" that fdhog opens; it returns
// the directory and the file's path.
func hogDir(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, f
}

// fdTally is what fdhog's root answers: files its tree opened, and the
// opens that failed with EMFILE, with ENFILE and with anything else.
type fdTally struct{ opened, mfile, nfile, other int }

// hogTree spawns an fdhog tree of kids children and more, and returns
// once every member has opened all it could.
func hogTree(t *testing.T, node *isle.Node, mod *isle.Module, dir string, kids int, l isle.Limits) (*isle.Process, fdTally) {
	t.Helper()
	ctx := testwasm.Context(t)
	p, err := node.Spawn(ctx, mod, isle.Grants{Caps: map[string]isle.Capability{
		"dir":     isle.DirCap(dir, api.RightRead),
		"spawner": isle.SpawnerCap(map[string]*isle.Module{"fdhog": mod}),
	}}, l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	r, err := p.Call(ctx, isle.Message{Tag: 1, Data: binary.LittleEndian.AppendUint32(nil, uint32(kids))})
	if err != nil || len(r.Data) != 16 {
		t.Fatalf("fdhog: %+v, %v", r, err)
	}
	u := func(i int) int { return int(binary.LittleEndian.Uint32(r.Data[4*i:])) }
	return p, fdTally{u(0), u(1), u(2), u(3)}
}

// hostStillWorks fails the test unless the host can still open files and
// listen on loopback.
func hostStillWorks(t *testing.T, path string) {
	t.Helper()
	var held []*os.File
	defer func() {
		for _, f := range held {
			f.Close()
		}
	}()
	for i := range 16 {
		f, err := os.Open(path)
		if err != nil {
			t.Errorf("the host cannot open file %d beside the hostile trees: %v", i+1, err)
			break
		}
		held = append(held, f)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Errorf("the host cannot listen beside the hostile trees: %v", err)
		return
	}
	l.Close()
}

// The outside reviewer's attack, on a node as configured by default: a
// tree given a directory and a spawner passes the directory's handle to 30
// children, and every member opens files until it cannot. The tree stops
// at its bound (4,096 at most, by default), failing with EMFILE, not the
// node's; the host can still open files and listen, and a second tree
// still gets its files. Before, the tree took every descriptor the OS
// process was allowed (20,000 here), and the host's own opens failed.
func TestFileHogTreeStopsAtItsBound(t *testing.T) {
	node := startNode(t, nodeConfig(t))
	mod := load(t, node, testwasm.C(t, "testdata/c/fdhog.c", "-O2"))
	dir, path := hogDir(t)
	all0, _ := hostFDs(t, path)

	p, tally := hogTree(t, node, mod, dir, 30, isle.Limits{Memory: 64 << 20})
	all, on := hostFDs(t, path)
	t.Logf("the tree opened %d files (%+v); the host's descriptors went from %d to %d, %d on the file", tally.opened, tally, all0, all, on)
	const bound = 4096 // the default bound of a tree, at most
	if on > bound || tally.opened > bound || on != tally.opened {
		t.Errorf("a tree holds %d host descriptors (its tally: %d), past the default bound of %d", on, tally.opened, bound)
	}
	if tally.mfile < 1 || tally.nfile != 0 || tally.other != 0 {
		t.Errorf("the tree's opens ended %+v, want each with EMFILE", tally)
	}
	hostStillWorks(t, path)

	// A neighbour tree still gets its share: one process, at its own bound
	// of 1,024 descriptors, stdio and /.cap being 4 of them (or at its
	// tree's, on a host that allows few descriptors).
	q, nb := hogTree(t, node, mod, dir, 0, isle.Limits{})
	if want := min(1020, tally.opened); nb.opened != want || nb.mfile != 1 {
		t.Errorf("a neighbour of the hostile tree opened %d files (%+v), want %d and then EMFILE", nb.opened, nb, want)
	}

	p.Kill()
	q.Kill()
	<-p.Done()
	<-q.Done()
	testwasm.WaitFor(t, "every file the trees opened to be closed", func() bool {
		_, on := hostFDs(t, path)
		return on == 0
	})
}

// Trees together stop at the node's bound (Config.MaxFiles), with ENFILE,
// each within its own (Limits.Files, EMFILE); a tree that sets none gets a
// quarter of the node's by default; what they hold is given back when they
// end.
func TestFileHogTreesStopAtTheNodesBound(t *testing.T) {
	cfg := nodeConfig(t)
	cfg.MaxFiles = 600
	node := startNode(t, cfg)
	mod := load(t, node, testwasm.C(t, "testdata/c/fdhog.c", "-O2"))
	dir, path := hogDir(t)

	a, ta := hogTree(t, node, mod, dir, 3, isle.Limits{Files: 400})
	if ta.opened != 400 || ta.mfile < 1 || ta.nfile != 0 {
		t.Errorf("the first tree, bounded at 400, opened %+v, want 400 and then EMFILE", ta)
	}
	b, tb := hogTree(t, node, mod, dir, 3, isle.Limits{Files: 400})
	if tb.opened != 200 || tb.nfile < 1 {
		t.Errorf("the second tree, with 200 left on the node, opened %+v, want 200 and then ENFILE", tb)
	}
	c, tc := hogTree(t, node, mod, dir, 0, isle.Limits{})
	if tc.opened != 0 || tc.nfile != 1 {
		t.Errorf("a third tree, on a full node, opened %+v, want ENFILE at once", tc)
	}
	if _, on := hostFDs(t, path); on != 600 {
		t.Errorf("the trees hold %d host descriptors on the file, want the node's bound of 600", on)
	}
	if s := node.Snapshot(); s.Files != 600 || s.FileLimit != 600 {
		t.Errorf("Snapshot: files %d of %d, want 600 of 600", s.Files, s.FileLimit)
	}
	fams := scrape(t, node.AdminHandler(""))
	if v, _ := value(fams, "isle_files"); v != 600 {
		t.Errorf("isle_files = %v, want 600", v)
	}
	if v, _ := value(fams, "isle_files_limit"); v != 600 {
		t.Errorf("isle_files_limit = %v, want 600", v)
	}
	if st := a.Stats().Tree; st.Files != 400 || st.PeakFiles != 400 || st.FileLimit != 400 {
		t.Errorf("the first tree's stats: %+v, want 400 files of 400", st)
	}
	if st := c.Stats().Tree; st.FileLimit != 150 {
		t.Errorf("a tree that sets no bound has %d, want a quarter of the node's 600", st.FileLimit)
	}
	hostStillWorks(t, path)

	a.Kill()
	<-a.Done()
	testwasm.WaitFor(t, "the first tree's files to be given back", func() bool {
		return node.Snapshot().Files == 200
	})
	if _, on := hostFDs(t, path); on != 200 {
		t.Errorf("after the first tree's end, %d host descriptors are open on the file, want 200", on)
	}
	// What it gave back is the node's again.
	d, td := hogTree(t, node, mod, dir, 0, isle.Limits{})
	if td.opened != 150 || td.mfile != 1 {
		t.Errorf("a tree after the first ended opened %+v, want its default bound of 150 and then EMFILE", td)
	}
	for _, p := range []*isle.Process{b, c, d} {
		p.Kill()
		<-p.Done()
	}
	testwasm.WaitFor(t, "every file to be given back", func() bool {
		_, on := hostFDs(t, path)
		return on == 0 && node.Snapshot().Files == 0
	})
}

// An HTTP request's connection is a host descriptor too: on a node whose
// one descriptor for guests a file hog holds, a request fails with ELIMIT
// and reaches no server; once the hog has ended, it is sent.
func TestFileBoundHoldsHTTPRequests(t *testing.T) {
	cfg := nodeConfig(t)
	cfg.MaxFiles = 1
	node := startNode(t, cfg)
	hog := load(t, node, testwasm.C(t, "testdata/c/fdhog.c", "-O2"))
	get := load(t, node, testwasm.C(t, "testdata/c/httpget.c", "-O2"))
	dir, _ := hogDir(t)
	up := upstream(t, offListServer(t).URL)
	g := isle.Grants{
		Args: []string{"httpget", "net", "GET", up.URL + "/hello", ""},
		Caps: map[string]isle.Capability{"net": isle.HTTPCap(up.URL)},
	}

	p, tally := hogTree(t, node, hog, dir, 0, isle.Limits{})
	if tally.opened != 1 {
		t.Fatalf("the hog opened %+v, want the node's one file", tally)
	}
	exit, out := runOut(t, node, get, g)
	if !exit.Normal() || out != "error=-7\n" {
		t.Errorf("a request on a node whose descriptors are all held: %v\n%s", exit, out)
	}
	if n := up.conns.Load(); n != 0 {
		t.Errorf("the server saw %d connections, want none", n)
	}
	p.Kill()
	<-p.Done()
	testwasm.WaitFor(t, "the hog's file to be given back", func() bool { return node.Snapshot().Files == 0 })
	exit, out = runOut(t, node, get, g)
	if !exit.Normal() {
		t.Fatalf("exit %v\n%s", exit, out)
	}
	wantLines(t, out, "body=hi there")
	if s := node.Snapshot(); s.Files != 0 {
		t.Errorf("the request's descriptor is still charged: %d", s.Files)
	}
}
