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
// when b is killed, a says it lost back, its front's calls wait for back
// (and time out), and isle ps shows b down. When b's isle up starts
// again, a says back is back and front's calls reach it, with no restart
// of a. a, b and c stop cleanly.
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
	a.wait(t, `^isle: shop is up: 1 service under 1 supervisor;`)
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
	a.wait(t, `^isle: lost service back on node b \(noconnection: node down\): messages from front wait for it to be back$`)
	// front's call waits in a's handle for an instance, until its own
	// 2 s timeout.
	if status, body := getBody(t, url+"/", ""); status != 503 || body != "front: back failed: -1" {
		t.Fatalf("GET after b died: %d %q; want 503 and ETIMEOUT", status, body)
	}
	out := psUntil(t, rt, sock, `(?m)^b +- +\(down\)`, `node b: down, last seen`, `(?m)^c +\d+ +idle `)
	if !strings.Contains(out, "2 processes on 3 nodes") {
		t.Errorf("isle ps:\n%s", out)
	}

	b = startEnv(t, rt, false, "up", "--node", "b", "--cluster", "127.0.0.1:0", "--join", addr, app)
	a.wait(t, `^isle: service back back on node b: messages from front reach it again$`)
	if status, body := getBody(t, url+"/", ""); status != 200 || body != "front: pong" {
		t.Fatalf("GET through a to b after b's return: %d %q", status, body)
	}
	psUntil(t, rt, sock, `(?m)^b +\d+ +back +\S+`, `3 processes on 3 nodes`, `node b: up`)
	for _, s := range []*started{c, b, a} {
		if status := s.stop(t, syscall.SIGTERM); status != 0 {
			t.Fatalf("status %d after SIGTERM\n%s", status, s.stderr())
		}
	}
	if strings.Contains(a.stderr(), "lost service back on node c") {
		t.Errorf("a lost a service it does not use:\n%s", a.stderr())
	}
}

// failoverApp writes an app whose back may run on b or c, used by a
// front on a, and the cluster's credentials beside it.
func failoverApp(t *testing.T) string {
	t.Helper()
	front := testwasm.C(t, "testdata/c/front.c", "-O2", "-mexec-model=reactor")
	svc := testwasm.C(t, "testdata/c/svc.c", "-O2", "-mexec-model=reactor")
	dir := t.TempDir()
	runIsle(t, "cluster", "init", filepath.Join(dir, "isle-cluster"), "--node", "a,b,c").want(t, 0)
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
nodes = ["b", "c"]
`, front, svc))
}

// back runs on b, the first of its nodes; when b is killed, c starts it
// and a's front reaches it there through the same handle. When b comes
// back, back stays on c and b stands by.
func TestUpClusterFailover(t *testing.T) {
	t.Parallel()
	app := failoverApp(t)
	rt := runtimeDir(t)
	a := startEnv(t, rt, false, "up", "--node", "a", "--cluster", "127.0.0.1:0", app)
	addr := a.wait(t, `^isle: node a: routes on (\S+) `)[1]
	sock := a.wait(t, `^isle: control socket (\S+) `)[1]
	b := startEnv(t, rt, false, "up", "--node", "b", "--cluster", "127.0.0.1:0", "--join", addr, app)
	c := startEnv(t, rt, false, "up", "--node", "c", "--cluster", "127.0.0.1:0", "--join", addr, app)
	cAddr := c.wait(t, `^isle: node c: routes on (\S+) `)[1]
	b.wait(t, `^isle: starting service back on node b: the first of its nodes b, c$`)
	c.wait(t, `^isle: shop is up: 0 services under 1 supervisor, and back when this node's turn comes;`)
	url := a.wait(t, `^isle: serving front on (http://\S+)$`)[1]
	a.wait(t, `^isle: shop is up`)
	if status, body := getBody(t, url+"/", ""); status != 200 || body != "front: pong" {
		t.Fatalf("GET through a to b: %d %q", status, body)
	}
	psUntil(t, rt, sock, `(?m)^b +\d+ +back +\S+`, `2 processes on 3 nodes`)

	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	c.wait(t, `^isle: starting service back on node c: of its nodes b, c, b before this one is down$`)
	a.wait(t, `^isle: service back back on node c: messages from front reach it again$`)
	if status, body := getBody(t, url+"/", ""); status != 200 || body != "front: pong" {
		t.Fatalf("GET through a after failover to c: %d %q", status, body)
	}
	psUntil(t, rt, sock, `(?m)^c +\d+ +back +\S+`, `node b: down`)

	b = startEnv(t, rt, false, "up", "--node", "b", "--cluster", "127.0.0.1:0", "--join", addr, "--join", cAddr, app)
	b.wait(t, `^isle: service back already runs on node c; node b stands by$`)
	b.wait(t, `^isle: shop is up`)
	if status, body := getBody(t, url+"/", ""); status != 200 || body != "front: pong" {
		t.Fatalf("GET through a after b's return: %d %q", status, body)
	}
	out := psUntil(t, rt, sock, `(?m)^c +\d+ +back +\S+`, `node b: up`)
	if regexp.MustCompile(`(?m)^b +\d+ +back`).MatchString(out) || !strings.Contains(out, "2 processes on 3 nodes") {
		t.Errorf("back runs twice, or not once:\n%s", out)
	}
	for _, s := range []*started{b, c, a} {
		if status := s.stop(t, syscall.SIGTERM); status != 0 {
			t.Fatalf("status %d after SIGTERM\n%s", status, s.stderr())
		}
	}
	if strings.Contains(b.stderr(), "starting service back") {
		t.Errorf("b started a second back:\n%s", b.stderr())
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
		{"up nodes and node", []string{"up", "--node", "a", failoverTOML(t, `node = "b"`+"\n"+`nodes = ["b", "c"]`)},
			"service.back.nodes: give node or nodes, not both"},
		{"up nodes twice", []string{"up", "--node", "a", failoverTOML(t, `nodes = ["b", "c", "b"]`)}, `service.back.nodes: "b" is listed twice`},
		{"up nodes bad name", []string{"up", "--node", "a", failoverTOML(t, `nodes = ["b", "c/d"]`)}, `service.back.nodes: "c/d": a node name is 1 to 64`},
		{"up nodes empty", []string{"up", "--node", "a", failoverTOML(t, `nodes = []`)}, "service.back.nodes: lists no node"},
		{"up node not in nodes", []string{"up", "--node", "d", failoverTOML(t, `nodes = ["b", "c"]`)}, "places no service on node d; its nodes are a, b, c"},
		{"up nats with join", []string{"up", "--node", "a", "--nats", "nats://127.0.0.1:1", "--join", "127.0.0.1:1", unplaced},
			"--nats uses an existing NATS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			oneLine(t, runIsle(t, c.args...), statusUsage, c.want)
		})
	}
}

// failoverTOML writes a manifest with front on a and back placed by the
// given keys.
func failoverTOML(t *testing.T, placeBack string) string {
	t.Helper()
	svc := testwasm.C(t, "testdata/c/svc.c", "-O2", "-mexec-model=reactor")
	return writeFile(t, t.TempDir(), "app.toml", fmt.Sprintf(`
[[service]]
name = "front"
module = %q
node = "a"
uses = ["back"]
[[service]]
name = "back"
module = %q
%s
`, svc, svc, placeBack))
}
