package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isle-run/isle/internal/testwasm"
)

// parseReport reads the hostile guest's "NAME: ok|error ..." lines.
func parseReport(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, rest, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("unexpected line %q", line)
		}
		m[name] = strings.TrimSpace(rest)
	}
	return m
}

// A hostile guest tries every way out of its directories and every way to
// learn what it was not given. None may work.
func TestHostileGuestCannotEscape(t *testing.T) {
	root := t.TempDir()
	secret := filepath.Join(root, "secret")
	tree := filepath.Join(root, "tree")
	ro := filepath.Join(root, "ro")
	for _, d := range []string{tree, ro, filepath.Join(tree, "sub")} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(secret, []byte("TOP SECRET"), 0o600)
	os.WriteFile(filepath.Join(tree, "file"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(ro, "existing"), []byte("readonly content"), 0o644)
	os.Symlink(secret, filepath.Join(tree, "link_abs"))
	os.Symlink("../secret", filepath.Join(tree, "link_rel"))
	old := time.Unix(1_000_000_000, 0)
	os.Chtimes(filepath.Join(ro, "existing"), old, old)

	t.Setenv("ISLE_LEAK_CANARY", "host-only")
	r := runIsle(t, "run", "--dir", tree+"::/data", "--ro-dir", ro+"::/ro", testwasm.GoDir(t, "testdata/go/hostile"))
	r.want(t, 0)
	rep := parseReport(t, r.stdout)

	if rep["env"] != "ok []" {
		t.Errorf("guest saw environment %s; want none", rep["env"])
	}
	if rep["args"] != `ok ["hostile"]` {
		t.Errorf("guest saw args %s", rep["args"])
	}
	if l := rep["list-root"]; strings.HasPrefix(l, "ok") && l != "ok data,ro" {
		t.Errorf("listing / showed %s; only the grants may be visible", l)
	}
	for _, name := range []string{
		"read-etc-passwd", "read-dotdot", "read-dotdot-deep", "read-dotdot-relative",
		"read-host-link-abs", "read-host-link-rel",
		"symlink-abs-follow", "symlink-up-follow", "symlink-rel-follow",
		"rename-out", "link-out", "link-in", "write-out",
	} {
		if got := rep[name]; !strings.HasPrefix(got, "error") {
			t.Errorf("%s: %s; want an error", name, got)
		}
	}
	for _, name := range []string{"symlink-abs-create", "symlink-up-create", "symlink-rel-create"} {
		if got := rep[name]; !strings.HasPrefix(got, "error EPERM") {
			t.Errorf("%s: %s; want EPERM: a link out of the tree is refused when made", name, got)
		}
	}
	if rep["ro-read"] != "ok readonly content" {
		t.Errorf("ro-read: %s", rep["ro-read"])
	}
	for _, name := range []string{
		"ro-create", "ro-open-write", "ro-truncate", "ro-rename", "ro-unlink",
		"ro-mkdir", "ro-utimes", "ro-symlink", "ro-link",
	} {
		if got := rep[name]; !strings.HasPrefix(got, "error EROFS") {
			t.Errorf("%s: %s; want EROFS", name, got)
		}
	}
	if rep["rw-write"] != "ok" || rep["rw-read-back"] != "ok mine" {
		t.Errorf("ordinary use of the read-write grant failed: %s / %s", rep["rw-write"], rep["rw-read-back"])
	}

	// Whatever the guest printed, the host must be untouched.
	if b, _ := os.ReadFile(secret); string(b) != "TOP SECRET" {
		t.Errorf("secret changed: %q", b)
	}
	for _, name := range []string{"stolen", "linked", "planted"} {
		if _, err := os.Lstat(filepath.Join(root, name)); err == nil {
			t.Errorf("guest created %s outside its tree", name)
		}
	}
	if _, err := os.Stat(filepath.Join(tree, "file")); err != nil {
		t.Errorf("/data/file was moved away: %v", err)
	}
	info, err := os.Stat(filepath.Join(ro, "existing"))
	if err != nil || info.Mode().Perm() != 0o644 || !info.ModTime().Equal(old) {
		t.Errorf("read-only file changed: %v %v %v", err, info.Mode(), info.ModTime())
	}
	if b, _ := os.ReadFile(filepath.Join(ro, "existing")); string(b) != "readonly content" {
		t.Errorf("read-only file content changed: %q", b)
	}
	entries, _ := os.ReadDir(ro)
	if len(entries) != 1 {
		t.Errorf("read-only dir gained entries: %v", entries)
	}
}
