package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/services/dirs"
	"github.com/isle-run/isle/internal/services/httpcap"
	"github.com/isle-run/isle/internal/services/kv"
)

// write puts body in dir/name and returns its path.
func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fixture is a directory holding a module, a data directory and a worker
// module, so that manifests can name real paths.
func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, "app.wasm", "")
	write(t, dir, "worker.wasm", "")
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// wantOneLine checks that err is one line naming the file, the key and
// the fault.
func wantOneLine(t *testing.T, name, path string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted; want %q", name, want)
		return
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, path+":") || !strings.Contains(msg, want) {
		t.Errorf("%s: %q; want one line starting with %s: and containing %q", name, msg, path, want)
	}
}

// Every mistake in a program manifest is one line naming the file and
// the key.
func TestLoadErrors(t *testing.T) {
	t.Parallel()
	dir := fixture(t)
	long := strings.Repeat("b", 256)
	cases := []struct{ name, body, want string }{
		{"bad toml", "module = ", "app.toml:1:"},
		{"unknown key", "module = \"app.wasm\"\nmodul = 1", `unknown key "modul"`},
		{"unknown table key", "module = \"app.wasm\"\n[limits]\nmemroy = \"1MiB\"", `unknown key "limits.memroy"`},
		{"no module", "", "module: missing"},
		{"missing module", `module = "nope.wasm"`, "module: " + filepath.Join(dir, "nope.wasm") + " does not exist"},
		{"bad env name", "module = \"app.wasm\"\n[env]\n\"A=B\" = \"x\"", `env: "A=B" is not a variable name`},
		{"bad size", "module = \"app.wasm\"\n[limits]\nmemory = \"lots\"", `limits.memory: "lots" is not a size`},
		{"zero size", "module = \"app.wasm\"\n[limits]\nmemory = \"0\"", `limits.memory: "0" is not a size`},
		{"negative fuel", "module = \"app.wasm\"\n[limits]\nfuel = -1", "limits.fuel: must not be negative"},
		{"negative mailbox", "module = \"app.wasm\"\n[limits]\nmailbox = -1", "limits.mailbox: must not be negative"},
		{"bad timeout", "module = \"app.wasm\"\n[limits]\ntimeout = \"soon\"", `limits.timeout: "soon" is not a positive duration`},
		{"negative timeout", "module = \"app.wasm\"\n[limits]\ntimeout = \"-1s\"", `limits.timeout: "-1s" is not a positive duration`},
		{"no kind", "module = \"app.wasm\"\n[caps.x]\nrights = [\"read\"]", "caps.x: missing kind: one of spawner, dir, kv, clock, random, log, http"},
		{"unknown kind", "module = \"app.wasm\"\n[caps.x]\nkind = \"teleport\"", `caps.x.kind: unknown kind "teleport"`},
		{"kernel kind", "module = \"app.wasm\"\n[caps.x]\nkind = \"process\"", `caps.x.kind: unknown kind "process"`},
		{"kind not a string", "module = \"app.wasm\"\n[caps.x]\nkind = 3", "caps.x.kind: unknown kind 3"},
		{"unknown right", "module = \"app.wasm\"\n[caps.d]\nkind = \"dir\"\npath = \"data\"\nrights = [\"fly\"]", `caps.d.rights: unknown right "fly" for a dir capability; the rights are create, delete, read, write`},
		{"no rights", "module = \"app.wasm\"\n[caps.d]\nkind = \"dir\"\npath = \"data\"", "caps.d.rights: list the rights to grant, from create, delete, read, write"},
		{"rights not a list", "module = \"app.wasm\"\n[caps.c]\nkind = \"clock\"\nrights = \"wall\"", "caps.c.rights: must be a list of rights"},
		{"single right", "module = \"app.wasm\"\n[caps.l]\nkind = \"log\"\nrights = [\"write\"]", "caps.l.rights: a log capability has a single right; leave rights out"},
		{"field of another kind", "module = \"app.wasm\"\n[caps.c]\nkind = \"clock\"\nrights = [\"wall\"]\nbucket = \"x\"", "caps.c.bucket: does not apply to a clock capability"},
		{"field of no kind", "module = \"app.wasm\"\n[caps.k]\nkind = \"kv\"\nbucket = \"x\"\nrights = [\"get\"]\ncolour = \"red\"", "caps.k.colour: does not apply to a kv capability (its keys are kind, rights, bucket, quota)"},
		{"field of wrong type", "module = \"app.wasm\"\n[caps.k]\nkind = \"kv\"\nbucket = 7\nrights = [\"get\"]", `caps.k.bucket: must be a string, such as bucket = "app"`},
		{"dir without path", "module = \"app.wasm\"\n[caps.d]\nkind = \"dir\"\nrights = [\"read\"]", `caps.d: a dir capability needs path (path = "./data")`},
		{"missing dir", "module = \"app.wasm\"\n[caps.d]\nkind = \"dir\"\npath = \"absent\"\nrights = [\"read\"]", "caps.d.path: " + filepath.Join(dir, "absent") + " is not an existing directory"},
		{"file as dir", "module = \"app.wasm\"\n[caps.d]\nkind = \"dir\"\npath = \"app.wasm\"\nrights = [\"read\"]", "caps.d.path: " + filepath.Join(dir, "app.wasm") + " is not an existing directory"},
		{"relative mount", "module = \"app.wasm\"\n[caps.d]\nkind = \"dir\"\npath = \"data\"\nmount = \"data\"\nrights = [\"read\"]", `caps.d.mount: "data" must be an absolute guest path`},
		{"kv without bucket", "module = \"app.wasm\"\n[caps.k]\nkind = \"kv\"\nrights = [\"get\"]", `caps.k: a kv capability needs bucket (bucket = "app")`},
		{"long bucket", "module = \"app.wasm\"\n[caps.k]\nkind = \"kv\"\nrights = [\"get\"]\nbucket = \"" + long + "\"", "caps.k.bucket: 256 bytes is too long a name; at most 255"},
		{"http without allow", "module = \"app.wasm\"\n[caps.h]\nkind = \"http\"", `caps.h: a http capability needs allow (allow = ["https://api.example.com"])`},
		{"http empty allow", "module = \"app.wasm\"\n[caps.h]\nkind = \"http\"\nallow = []", "caps.h: a http capability needs allow"},
		{"bad origin", "module = \"app.wasm\"\n[caps.h]\nkind = \"http\"\nallow = [\"example.com\"]", `caps.h.allow: "example.com" is not an origin: want scheme://host[:port]`},
		{"origin with path", "module = \"app.wasm\"\n[caps.h]\nkind = \"http\"\nallow = [\"https://example.com/api\"]", `caps.h.allow: "https://example.com/api" is not an origin: an origin has no path`},
		{"origin with wildcard", "module = \"app.wasm\"\n[caps.h]\nkind = \"http\"\nallow = [\"https://*.example.com\"]", "wildcards are not supported"},
		{"origin with bad scheme", "module = \"app.wasm\"\n[caps.h]\nkind = \"http\"\nallow = [\"ftp://example.com\"]", `scheme "ftp" is neither http nor https`},
		{"spawner without modules", "module = \"app.wasm\"\n[caps.s]\nkind = \"spawner\"", "caps.s: a spawner capability needs modules"},
		{"spawner modules not a table", "module = \"app.wasm\"\n[caps.s]\nkind = \"spawner\"\nmodules = \"worker.wasm\"", "caps.s.modules: must be a table of strings"},
		{"spawner missing module", "module = \"app.wasm\"\n[caps.s]\nkind = \"spawner\"\nmodules = { w = \"gone.wasm\" }", "caps.s.modules.w: " + filepath.Join(dir, "gone.wasm") + " does not exist"},
	}
	for i, c := range cases {
		path := write(t, dir, "case"+strings.Repeat("x", i)+".toml", c.body)
		_, err := Load(path)
		want := c.want
		if c.name == "bad toml" {
			want = filepath.Base(path) + ":1:"
		}
		wantOneLine(t, c.name, path, err, want)
	}
}

// A good manifest comes back with every path made absolute and each
// capability parsed by its kind.
func TestLoad(t *testing.T) {
	t.Parallel()
	dir := fixture(t)
	path := write(t, dir, "app.toml", `
module = "app.wasm"
args = ["-v"]
stdio = true
data_dir = "state"
[env]
B = "2"
A = "1"
[wasi]
clock = true
[limits]
memory = "64MiB"
fuel = 1000
mailbox = 8
timeout = "30s"
[caps.data]
kind = "dir"
path = "data"
mount = "/data"
rights = ["read", "write"]
[caps.store]
kind = "kv"
bucket = "app"
rights = ["get", "list"]
[caps.web]
kind = "http"
allow = ["https://api.example.com"]
[caps.log]
kind = "log"
[caps.spawner]
kind = "spawner"
modules = { worker = "worker.wasm" }
[http]
listen = "127.0.0.1:8080"
`)
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Module != filepath.Join(dir, "app.wasm") || m.DataDir != filepath.Join(dir, "state") || m.Listen != "127.0.0.1:8080" {
		t.Errorf("paths: %+v", m)
	}
	if strings.Join(m.Env, " ") != "A=1 B=2" || !m.Stdio || !m.WASIClock || m.WASIRandom || strings.Join(m.Args, " ") != "-v" {
		t.Errorf("program: %+v", m.Program)
	}
	if m.Limits != (Limits{Memory: 64 << 20, Fuel: 1000, Mailbox: 8, Timeout: 30 * time.Second}) {
		t.Errorf("limits: %+v", m.Limits)
	}
	caps := map[string]Cap{}
	var names []string
	for _, c := range m.Caps {
		caps[c.Name] = c
		names = append(names, c.Name)
	}
	if strings.Join(names, " ") != "data log spawner store web" {
		t.Errorf("caps not sorted by name: %v", names)
	}
	if c := caps["data"]; c.Kind != dirs.Kind || c.Rights != api.RightRead|api.RightWrite || c.Spec != (dirs.Spec{Path: filepath.Join(dir, "data"), Mount: "/data"}) {
		t.Errorf("data: %+v", c)
	}
	if c := caps["store"]; c.Kind != kv.Kind || c.Rights != api.RightGet|api.RightList || c.Spec != (kv.Spec{Bucket: "app"}) {
		t.Errorf("store: %+v", c)
	}
	if c := caps["web"]; c.Rights != api.RightUse {
		t.Errorf("web: %+v", c)
	} else if _, ok := c.Spec.(*httpcap.Grant); !ok {
		t.Errorf("web spec: %T", c.Spec)
	}
	if c := caps["log"]; c.Rights != api.RightUse || c.Spec != nil {
		t.Errorf("log: %+v", c)
	}
	if mods, ok := caps["spawner"].Spec.(abi.SpawnerModules); !ok || mods["worker"] != filepath.Join(dir, "worker.wasm") {
		t.Errorf("spawner: %+v", caps["spawner"])
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]uint64{
		"65536": 65536, "64MiB": 64 << 20, "512KiB": 512 << 10, "1GiB": 1 << 30, "10MB": 10e6,
		"2KB": 2000, "1GB": 1e9, "4K": 4096, "3M": 3 << 20, "1G": 1 << 30, "100B": 100, "1.5KiB": 1536, "4GiB": 4 << 30,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "0", "-1MiB", "5GiB", "NaN", "1XB"} {
		if _, err := ParseSize(in); err == nil || !strings.Contains(err.Error(), "64MiB") {
			t.Errorf("ParseSize(%q): %v; want an error that shows how to write a size", in, err)
		}
	}
}
