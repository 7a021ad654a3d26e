package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/isle-run/isle/internal/testwasm"
)

// clusterApp writes an app placed on three nodes: an HTTP front on a
// that uses back on b, and an idle service on c; and the cluster's
// credentials beside it, where isle up looks by default.
func clusterApp(t *testing.T) string {
	t.Helper()
	front := testwasm.C(t, "testdata/c/front.c", "-O2", "-mexec-model=reactor")
	svc := testwasm.C(t, "testdata/c/svc.c", "-O2", "-mexec-model=reactor")
	dir := t.TempDir()
	runIsle(t, "cluster", "init", filepath.Join(dir, "isle-cluster"), "--node", "a", "--node", "b,c").want(t, 0)
	return writeFile(t, dir, "app.toml", fmt.Sprintf(`
name = "shop"
[[service]]
name = "front"
module = %q
node = "a"
http = "127.0.0.1:0"
uses = ["back"]
[[service]]
name = "back"
module = %q
args = ["worker"]
node = "b"
[[service]]
name = "idle"
module = %q
args = ["worker"]
node = "c"
`, front, svc, svc))
}

// psUntil runs isle ps on the node at sock until its output matches every
// pattern, and returns it.
func psUntil(t *testing.T, rt, sock string, patterns ...string) string {
	t.Helper()
	ctx := testwasm.Context(t)
	for {
		r := ctl(t, rt, nil, "ps", "--node", sock)
		r.want(t, 0)
		all := true
		for _, p := range patterns {
			all = all && regexp.MustCompile(p).MatchString(r.stdout)
		}
		if all {
			return r.stdout
		}
		if ctx.Err() != nil {
			t.Fatalf("isle ps never matched %q:\n%s", patterns, r.stdout)
		}
	}
}

// Three isle up processes form a cluster from one manifest: a call from
// a's front reaches back on b; isle ps on a lists every node's services;
// when b is killed, a says it lost back, its front's calls fail with
// EGONE, and isle ps shows b down; a and c stop cleanly.
func TestUpCluster(t *testing.T) {
	t.Parallel()
	app := clusterApp(t)
	rt := runtimeDir(t)
	a := startEnv(t, rt, false, "up", "--node", "a", "--cluster", "127.0.0.1:0", app)
	addr := a.wait(t, `^isle: node a: routes on (\S+) `)[1]
	sock := a.wait(t, `^isle: control socket (\S+) `)[1]
	b := startEnv(t, rt, false, "up", "--node", "b", "--cluster", "127.0.0.1:0", "--join", addr, app)
	c := startEnv(t, rt, false, "up", "--node", "c", "--cluster", "127.0.0.1:0", "--join", addr, app)
	url := a.wait(t, `^isle: serving front on (http://\S+)$`)[1]
	a.wait(t, `^isle: shop is up: 1 service under 1 supervisor`)
	b.wait(t, `^isle: shop is up`)
	c.wait(t, `^isle: shop is up`)

	if status, body := getBody(t, url+"/", ""); status != 200 || body != "front: pong" {
		t.Fatalf("GET through a to b: %d %q", status, body)
	}
	psUntil(t, rt, sock, `(?m)^a +\d+ +front +\S+`, `(?m)^b +\d+ +back +\S+`, `(?m)^c +\d+ +idle +\S+`,
		`3 processes on 3 nodes`, `node b: up`, `node c: up`)

	if err := b.cmd.Process.Kill(); err != nil { // SIGKILL: no goodbye to the others
		t.Fatal(err)
	}
	a.wait(t, `^isle: lost service back on node b \(noconnection: node down\): front can no longer reach it$`)
	if status, body := getBody(t, url+"/", ""); status != 503 || body != "front: back failed: -2" {
		t.Fatalf("GET after b died: %d %q; want 503 and EGONE", status, body)
	}
	out := psUntil(t, rt, sock, `(?m)^b +- +\(down\)`, `node b: down, last seen`, `(?m)^c +\d+ +idle `)
	if !strings.Contains(out, "2 processes on 3 nodes") {
		t.Errorf("isle ps:\n%s", out)
	}
	for _, s := range []*started{c, a} {
		if status := s.stop(t, syscall.SIGTERM); status != 0 {
			t.Fatalf("status %d after SIGTERM\n%s", status, s.stderr())
		}
	}
	if strings.Contains(a.stderr(), "lost service back on node c") {
		t.Errorf("a lost a service it does not use:\n%s", a.stderr())
	}
}

// Mistakes with clusters get one line and the usage status, before any
// node starts.
func TestClusterErrors(t *testing.T) {
	t.Parallel()
	app := clusterApp(t)
	creds := filepath.Join(filepath.Dir(app), "isle-cluster")
	unplaced := writeFile(t, t.TempDir(), "one.toml", fmt.Sprintf("[[service]]\nname = \"a\"\nmodule = %q\nargs = [\"worker\"]\n",
		testwasm.C(t, "testdata/c/svc.c", "-O2", "-mexec-model=reactor")))
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"init existing node", []string{"cluster", "init", creds, "--node", "d,b"},
			filepath.Join(creds, "b.crt") + " already exists: node b has credentials"},
		{"init bad name", []string{"cluster", "init", creds, "--node", "a.b"}, `node name "a.b": use 1 to 64 of the characters`},
		{"init no dir", []string{"cluster", "init"}, "usage: isle cluster init DIR"},
		{"init twice", []string{"cluster", "init", t.TempDir(), "--node", "x,x"}, `node "x" is named twice`},
		{"up bad node name", []string{"up", "--node", "a.b", app}, `--node: node name "a.b"`},
		{"up node not placed", []string{"up", "--node", "d", app}, "places no service on node d; its nodes are a, b, c"},
		{"up placed without node", []string{"up", app}, "places its services on nodes a, b, c: run isle up --node NAME on each"},
		{"up join without credentials", []string{"up", "--node", "a", "--join", "127.0.0.1:1", unplaced},
			"no cluster credentials for node a in " + filepath.Join(filepath.Dir(unplaced), "isle-cluster")},
		{"up join without node", []string{"up", "--join", "127.0.0.1:1", unplaced}, "--join: only for a node of a cluster; add --node NAME"},
		{"up nats with join", []string{"up", "--node", "a", "--nats", "nats://127.0.0.1:1", "--join", "127.0.0.1:1", unplaced},
			"--nats uses an existing NATS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			oneLine(t, runIsle(t, c.args...), statusUsage, c.want)
		})
	}
}
