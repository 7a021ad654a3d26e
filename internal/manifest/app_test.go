package manifest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Every mistake in an application manifest is one line naming the file
// and the key.
func TestLoadAppErrors(t *testing.T) {
	t.Parallel()
	dir := fixture(t)
	svc := func(name, extra string) string {
		return fmt.Sprintf("[[service]]\nname = %q\nmodule = \"app.wasm\"\n%s\n", name, extra)
	}
	cases := []struct{ name, body, want string }{
		{"no service", `name = "x"`, "service: an application needs at least one [[service]]"},
		{"unknown key", "nmae = \"x\"\n" + svc("a", ""), `unknown key "nmae"`},
		{"bad strategy", "[supervisor]\nstrategy = \"all_for_none\"\n" + svc("a", ""), `supervisor.strategy: "all_for_none" is not one_for_one, one_for_all or rest_for_one`},
		{"negative intensity", "[supervisor]\nintensity = -1\n" + svc("a", ""), "supervisor.intensity: must not be negative"},
		{"bad period", "[supervisor]\nperiod = \"often\"\n" + svc("a", ""), `supervisor.period: "often" is not a positive duration`},
		{"bad backoff", "[supervisor]\nbackoff = \"1s\"\n" + svc("a", ""), `supervisor.backoff: "1s" is not MIN..MAX`},
		{"inverted backoff", "[supervisor]\nbackoff = \"1s..10ms\"\n" + svc("a", ""), `supervisor.backoff: "1s..10ms" is not MIN..MAX`},
		{"unnamed service", "[[service]]\nmodule = \"app.wasm\"", "service.name: missing: every service needs a name"},
		{"bad service name", svc("a.b", ""), `service.name: "a.b": a service name has no '/', '.' or space`},
		{"two services, one name", svc("a", "") + svc("a", ""), `service.a: the name "a" is used by two services of one supervisor`},
		{"bad restart", svc("a", `restart = "sometimes"`), `service.a.restart: "sometimes" is not permanent, transient or temporary`},
		{"bad shutdown", svc("a", `shutdown = "later"`), `service.a.shutdown: "later" is not a positive duration`},
		{"program error inside", svc("a", "[service.limits]\nfuel = -1"), "service.a.limits.fuel: must not be negative"},
		{"cap error inside", svc("a", "[service.caps.x]\nkind = \"teleport\""), `service.a.caps.x.kind: unknown kind "teleport"`},
		{"program and supervisor", svc("a", "[service.supervisor]\n[[service.service]]\nname = \"b\"\nmodule = \"app.wasm\""), "service.a: a service is a program (module) or a supervisor"},
		{"empty nested supervisor", "[[service]]\nname = \"a\"\n[service.supervisor]\nstrategy = \"one_for_all\"", "service.a.service: a nested supervisor needs at least one [[service.service]]"},
		{"nested error", "[[service]]\nname = \"a\"\n[[service.service]]\nname = \"b\"\nmodule = \"app.wasm\"\nrestart = \"never\"", `service.a.service.b.restart: "never" is not permanent`},
		{"unknown sibling", svc("a", `uses = ["b"]`), `service.a.uses: no sibling service is called "b"`},
		{"uses itself", svc("a", `uses = ["a"]`), "service.a.uses: a service cannot use itself"},
		{"cycle", svc("a", `uses = ["b"]`) + svc("b", `uses = ["c"]`) + svc("c", `uses = ["a"]`), "uses: a cycle: a -> b -> c -> a"},
		{"bad address", svc("a", `http = "8080"`), `service.a.http: "8080" is not host:port`},
		{"bad node", svc("a", `node = "x.y"`), `service.a.node: "x.y": a node name is 1 to 64 of A-Z a-z 0-9 _ -`},
		{"bad default node", "default_node = \"a b\"\n" + svc("a", ""), `default_node: "a b": a node name is 1 to 64`},
		{"unplaced", svc("a", `node = "x"`) + svc("b", ""), "service.b.node: missing: other services are placed on nodes"},
		{"nested node", "[[service]]\nname = \"a\"\nnode = \"x\"\n[[service.service]]\nname = \"b\"\nmodule = \"app.wasm\"\nnode = \"y\"",
			"service.a.service.b.node: only a top-level [[service]] is placed on a node"},
		{"node and nodes", svc("a", "node = \"b\"\nnodes = [\"b\", \"c\"]"), "service.a.nodes: give node or nodes, not both"},
		{"empty nodes", svc("a", "nodes = []"), "service.a.nodes: lists no node"},
		{"bad nodes", svc("a", `nodes = ["b", "c d"]`), `service.a.nodes: "c d": a node name is 1 to 64`},
		{"duplicate nodes", svc("a", `nodes = ["b", "c", "b"]`), `service.a.nodes: "b" is listed twice`},
		{"nested nodes", "[[service]]\nname = \"a\"\nnode = \"x\"\n[[service.service]]\nname = \"b\"\nmodule = \"app.wasm\"\nnodes = [\"y\"]",
			"service.a.service.b.nodes: only a top-level [[service]] is placed on nodes"},
		{"supervisor fails over", "[[service]]\nname = \"a\"\nnodes = [\"x\", \"y\"]\n[[service.service]]\nname = \"b\"\nmodule = \"app.wasm\"",
			"service.a.nodes: only a program service fails over between nodes"},
		{"http fails over", svc("a", "http = \"127.0.0.1:0\"\nnodes = [\"x\", \"y\"]"), "service.a.nodes: a service that fails over does not serve http"},
		{"unplaced beside nodes", svc("a", `nodes = ["x", "y"]`) + svc("b", ""), "service.b.node: missing: other services are placed on nodes"},
		{"shared address", svc("a", `http = "127.0.0.1:8080"`) + svc("b", `http = "127.0.0.1:8080"`), "service.b.http: 127.0.0.1:8080 is also service.a's address"},
	}
	for i, c := range cases {
		path := write(t, dir, "app"+strings.Repeat("x", i)+".toml", c.body)
		_, err := LoadApp(path)
		wantOneLine(t, c.name, path, err, c.want)
	}
}

func TestLoadApp(t *testing.T) {
	t.Parallel()
	dir := fixture(t)
	path := write(t, dir, "shop.toml", `
data_dir = "state"
[supervisor]
strategy = "rest_for_one"
intensity = 0
period = "2s"
backoff = "10ms..1s"

[[service]]
name = "db"
module = "app.wasm"
restart = "transient"
shutdown = "3s"
[service.caps.store]
kind = "kv"
bucket = "db"
rights = ["get"]

[[service]]
name = "web"
module = "app.wasm"
http = "127.0.0.1:0"
uses = ["db"]

[[service]]
name = "back"
[[service.service]]
name = "worker"
module = "app.wasm"
`)
	if !IsApp(path) || IsApp(write(t, dir, "prog.toml", `module = "app.wasm"`)) {
		t.Fatal("IsApp cannot tell an application from a program")
	}
	a, err := LoadApp(path)
	if err != nil {
		t.Fatal(err)
	}
	r := a.Root
	if a.Name != "shop" || r.Strategy != "rest_for_one" || r.Intensity != -1 || r.Period != 2*time.Second ||
		r.BackoffMin != 10*time.Millisecond || r.BackoffMax != time.Second || len(r.Services) != 3 {
		t.Fatalf("root: %+v", a)
	}
	db, web, back := r.Services[0], r.Services[1], r.Services[2]
	if db.Restart != "transient" || db.Shutdown != 3*time.Second || len(db.Program.Caps) != 1 || db.Key != "service.db" {
		t.Errorf("db: %+v", db)
	}
	if web.Restart != "permanent" || web.HTTP != "127.0.0.1:0" || strings.Join(web.Uses, ",") != "db" {
		t.Errorf("web: %+v", web)
	}
	if back.Supervisor == nil || back.Supervisor.Strategy != "one_for_one" || back.Supervisor.Services[0].Key != "service.back.service.worker" {
		t.Errorf("back: %+v", back)
	}
	if a.Placed || db.Node != "" {
		t.Errorf("an app without node keys is placed: %+v", a)
	}
}

// Services are placed on their node, or on default_node.
func TestLoadAppPlaced(t *testing.T) {
	t.Parallel()
	dir := fixture(t)
	path := write(t, dir, "placed.toml", `
default_node = "a"
[[service]]
name = "db"
module = "app.wasm"
node = "b"
[[service]]
name = "web"
module = "app.wasm"
uses = ["db"]
`)
	a, err := LoadApp(path)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Placed || a.Root.Services[0].Node != "b" || a.Root.Services[1].Node != "a" || strings.Join(a.Nodes(), ",") != "a,b" {
		t.Fatalf("placement: %+v, nodes %v", a, a.Nodes())
	}
	if a.Root.Services[0].FailsOver() || strings.Join(a.Root.Services[1].Nodes, ",") != "a" {
		t.Errorf("one node each: %+v", a.Root.Services)
	}
}

// A service with nodes = [...] may run on each of them, in that order.
func TestLoadAppFailover(t *testing.T) {
	t.Parallel()
	dir := fixture(t)
	path := write(t, dir, "failover.toml", `
[[service]]
name = "db"
module = "app.wasm"
nodes = ["c", "b"]
[[service]]
name = "web"
module = "app.wasm"
node = "a"
uses = ["db"]
`)
	a, err := LoadApp(path)
	if err != nil {
		t.Fatal(err)
	}
	db := a.Root.Services[0]
	if !a.Placed || !db.FailsOver() || db.Node != "c" || strings.Join(db.Nodes, ",") != "c,b" || strings.Join(a.Nodes(), ",") != "a,b,c" {
		t.Fatalf("placement: %+v, nodes %v", db, a.Nodes())
	}
}
