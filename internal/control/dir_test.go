package control

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The socket directory is made 0700, and one that others may enter, that
// is not a directory, or that another user owns is refused.
func TestMakeDir(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir := filepath.Join(base, "isle")
	if err := makeDir(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("made %v, %v; want mode 0700", fi.Mode(), err)
	}
	if err := makeDir(dir); err != nil {
		t.Fatalf("an existing good directory: %v", err)
	}

	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := makeDir(open); !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), "mode 0750") {
		t.Errorf("a directory others may enter: %v", err)
	}

	link := filepath.Join(base, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if err := makeDir(link); !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a symbolic link: %v", err)
	}

	if os.Getuid() != 0 {
		t.Log("not root: cannot give a directory to another user; ownership unchecked")
		return
	}
	theirs := filepath.Join(base, "theirs")
	if err := os.Mkdir(theirs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := makeDir(theirs); !errors.Is(err, ErrUnsafeDir) || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("another user's directory: %v", err)
	}
}

// Find says in one line that no node runs, whether the directory is
// missing or empty, and removes a socket nobody listens on.
func TestFindNoNode(t *testing.T) {
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	t.Setenv(EnvNode, "")
	if _, err := Find(""); !errors.Is(err, ErrNoNode) {
		t.Fatalf("no directory: %v", err)
	}
	if err := makeDir(Dir()); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(""); !errors.Is(err, ErrNoNode) {
		t.Fatalf("empty directory: %v", err)
	}
	// A stale socket: bound, then its listener closed without unlinking.
	stale := SocketPath(Dir(), 1)
	ln, err := listenStale(stale)
	if err != nil {
		t.Fatal(err)
	}
	ln()
	if _, err := Find(""); !errors.Is(err, ErrNoNode) {
		t.Fatalf("stale socket: %v", err)
	}
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Errorf("stale socket not removed: %v", err)
	}
	if p, err := Find("/some/where.sock"); p != "/some/where.sock" || err != nil {
		t.Errorf("--node: %q, %v", p, err)
	}
	t.Setenv(EnvNode, "/from/env.sock")
	if p, err := Find(""); p != "/from/env.sock" || err != nil {
		t.Errorf("%s: %q, %v", EnvNode, p, err)
	}
}

// listenStale binds a socket at path and returns how to close it while
// leaving the file behind, as a killed node does.
func listenStale(path string) (func(), error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false)
	return func() { ln.Close() }, nil
}
