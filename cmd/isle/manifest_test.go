package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// isle run app.toml grants exactly what the manifest lists.
func TestManifestGrantsExactly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	os.WriteFile(filepath.Join(data, "in.txt"), []byte("from the host"), 0o644)
	manifest := filepath.Join(dir, "app.toml")
	os.WriteFile(manifest, []byte(fmt.Sprintf(`
module = %q
stdio = true

[limits]
memory = "128MiB"
timeout = "30s"

[caps.data]
kind = "dir"
path = "data"
rights = ["read"]

[caps.clock]
kind = "clock"
rights = ["monotonic"]

[caps.log]
kind = "log"
`, testwasm.GoDir(t, "testdata/go/capsuser"))), 0o644)
	r := runIsle(t, "run", manifest)
	r.want(t, 0)
	want := []string{
		`read: "from the host" <nil>`,
		"write: false", // read-only handle
		"monotonic: true",
		"wall: isle: handle lacks the right",
		"log: <nil>",
		"kv: isle: not found", // not granted
		"rights: 1",
	}
	for _, w := range want {
		if !strings.Contains(r.stdout, w+"\n") {
			t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "out.txt")); err == nil {
		t.Error("a read-only directory handle wrote a file")
	}
}

func TestManifestMistakesGetClearErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noop := testwasm.WAT(t, "testdata/wat/noop.wat")
	cases := []struct{ name, body, want string }{
		{"no module", ``, "module: missing"},
		{"missing module", `module = "nope.wasm"`, "nope.wasm does not exist"},
		{"unknown key", fmt.Sprintf("module = %q\nmodul = 1", noop), `unknown key "modul"`},
		{"bad toml", `module = `, "app.toml:1:"},
		{"bad size", fmt.Sprintf("module = %q\n[limits]\nmemory = \"lots\"", noop), `limits.memory: "lots" is not a size`},
		{"negative files", fmt.Sprintf("module = %q\n[limits]\nfiles = -1", noop), "limits.files: must not be negative"},
		{"negative processes", fmt.Sprintf("module = %q\n[limits]\nprocesses = -2", noop), "limits.processes: must not be negative"},
		{"bad timeout", fmt.Sprintf("module = %q\n[limits]\ntimeout = \"soon\"", noop), `limits.timeout: "soon" is not a positive duration`},
		{"unknown kind", fmt.Sprintf("module = %q\n[caps.x]\nkind = \"teleport\"", noop), `caps.x.kind: unknown kind "teleport"`},
		{"no kind", fmt.Sprintf("module = %q\n[caps.x]\nrights = [\"read\"]", noop), "caps.x: missing kind"},
		{"unknown right", fmt.Sprintf("module = %q\n[caps.d]\nkind = \"dir\"\npath = %q\nrights = [\"fly\"]", noop, dir), `unknown right "fly" for a dir capability; the rights are create, delete, read, write`},
		{"no rights", fmt.Sprintf("module = %q\n[caps.d]\nkind = \"dir\"\npath = %q", noop, dir), "list the rights to grant"},
		{"dir without path", fmt.Sprintf("module = %q\n[caps.d]\nkind = \"dir\"\nrights = [\"read\"]", noop), `a dir capability needs path`},
		{"missing dir", fmt.Sprintf("module = %q\n[caps.d]\nkind = \"dir\"\npath = \"absent\"\nrights = [\"read\"]", noop), "is not an existing directory"},
		{"field for other kind", fmt.Sprintf("module = %q\n[caps.c]\nkind = \"clock\"\nrights = [\"wall\"]\nbucket = \"x\"", noop), "caps.c.bucket: does not apply to a clock capability"},
		{"bad origin", fmt.Sprintf("module = %q\n[caps.h]\nkind = \"http\"\nallow = [\"example.com\"]", noop), `"example.com" is not an origin`},
		{"bad quota", fmt.Sprintf("module = %q\n[caps.s]\nkind = \"kv\"\nbucket = \"b\"\nrights = [\"put\"]\nquota = \"lots\"", noop), `caps.s.quota: "lots" is not a size between 1B and 1PiB`},
		{"single right kind", fmt.Sprintf("module = %q\n[caps.l]\nkind = \"log\"\nrights = [\"write\"]", noop), "has a single right; leave rights out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "app.toml")
			os.WriteFile(path, []byte(c.body), 0o644)
			r := runIsle(t, "run", path)
			r.want(t, statusUsage)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], c.want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, c.want)
			}
		})
	}
}

func TestCapsListsWhatAModuleAsksFor(t *testing.T) {
	t.Parallel()
	r := runIsle(t, "caps", testwasm.GoDir(t, "testdata/go/files"))
	r.want(t, 0)
	for _, w := range []string{"wasi_snapshot_preview1: ", "files (path_open", "environment variables (environ_get", "the clock (clock_time_get"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("isle caps output lacks %q:\n%s", w, r.stdout)
		}
	}
	r = runIsle(t, "caps", testwasm.WAT(t, "testdata/wat/spin.wat"))
	r.want(t, 0)
	if !strings.Contains(r.stdout, "nothing: it can only compute") || strings.Contains(r.stdout, "grants") {
		t.Errorf("a module with no imports:\n%s", r.stdout)
	}
}

// isle caps lists each import once, however often the module imports it,
// and the grant names the module looks up with constants: straight from
// C or WAT, and through the Go SDK's wrapper.
func TestCapsListsImportsOnceAndGrantNames(t *testing.T) {
	t.Parallel()
	r := runIsle(t, "caps", testwasm.WAT(t, "testdata/wat/lookups.wat"))
	r.want(t, 0)
	for _, w := range []string{
		"\n  isle: grant, send\n",
		"\n  a process, or a service that stands for one (send): nothing to grant",
		"\n  capabilities by name (grant): ",
		"\nit looks up the grants: store, web\n",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("isle caps output lacks %q:\n%s", w, r.stdout)
		}
	}
	r = runIsle(t, "caps", testwasm.C(t, "testdata/c/caps.c", "-O2", "-mexec-model=reactor"))
	r.want(t, 0)
	if !strings.Contains(r.stdout, "\nit looks up the grants: ") || !strings.Contains(r.stdout, " next, peer, ") {
		t.Errorf("C grant names:\n%s", r.stdout)
	}
	r = runIsle(t, "caps", testwasm.GoDir(t, "testdata/go/capsuser"))
	r.want(t, 0)
	if !strings.Contains(r.stdout, "\nit looks up the grants: clock, data, kv, log\n") {
		t.Errorf("Go grant names:\n%s", r.stdout)
	}
}

// A manifest grants key-value buckets too, with a data directory that
// outlives the run.
// kvManifest writes a manifest running testdata/go/kv with its buckets
// and a data_dir of "state" beside it, and returns its path.
func kvManifest(t *testing.T, dir string) string {
	t.Helper()
	manifest := filepath.Join(dir, "kv.toml")
	os.WriteFile(manifest, []byte(fmt.Sprintf(`
module = %q
stdio = true
data_dir = "state"

[caps.kv]
kind = "kv"
bucket = "main"
rights = ["get", "put", "remove", "list"]

[caps.ro]
kind = "kv"
bucket = "main"
rights = ["get"]

[caps.other]
kind = "kv"
bucket = "other"
rights = ["get", "put", "remove", "list"]

[caps.small]
kind = "kv"
bucket = "small"
rights = ["put", "remove"]
quota = "1MiB"

[caps.clock]
kind = "clock"
rights = ["monotonic"]
`, testwasm.GoDir(t, "testdata/go/kv"))), 0o644)
	return manifest
}

func TestManifestKeyValue(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runIsle(t, "run", kvManifest(t, dir))
	r.want(t, 0)
	if strings.Contains(r.stdout, "FAIL") || !strings.Contains(r.stdout, "ok quota-delete\n") {
		t.Fatalf("guest checks:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "kv.db")); err != nil {
		t.Fatalf("no store in the manifest's data_dir: %v", err)
	}
}

// --kv-max bounds the node's store: at 1KiB the guest's small puts fit
// and its first large one fails with ELIMIT,
// with none nothing does, and a bad size is a usage error that says how
// to write one.
func TestKVMaxFromTheCLI(t *testing.T) {
	t.Parallel()
	r := runIsle(t, "run", "--kv-max", "1KiB", kvManifest(t, t.TempDir()))
	r.want(t, 1)
	if !strings.Contains(r.stdout, "ok put-get\n") || !strings.Contains(r.stdout, "FAIL big-value: put isle: limit reached") {
		t.Fatalf("under --kv-max 1KiB, want a small put to fit and a large one to fail:\n%s", r.stdout)
	}
	r = runIsle(t, "run", "--kv-max", "none", kvManifest(t, t.TempDir()))
	r.want(t, 0)
	for _, cmd := range []string{"run", "up"} {
		r = runIsle(t, cmd, "--kv-max", "lots", "x")
		r.want(t, 126)
		if !strings.Contains(r.stderr, `"lots" is not a size between 1B and 1PiB`) || !strings.Contains(r.stderr, "none for no bound") {
			t.Errorf("isle %s --kv-max lots: %s", cmd, r.stderr)
		}
	}
}
