package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// runtimeDir makes a private XDG_RUNTIME_DIR, so that the nodes a test
// starts are the only ones its commands find.
func runtimeDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "isle-ctl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// startEnv starts the CLI with XDG_RUNTIME_DIR=rt, reading its stderr
// (or, with stdout, its standard output) line by line.
func startEnv(t *testing.T, rt string, stdout bool, args ...string) *started {
	t.Helper()
	return startWith(t, []string{"XDG_RUNTIME_DIR=" + rt, "ISLE_NODE="}, stdout, args...)
}

// ctl runs a control command with XDG_RUNTIME_DIR=rt and extra
// environment.
func ctl(t *testing.T, rt string, env []string, args ...string) result {
	t.Helper()
	ctx := testwasm.Context(t)
	cmd := exec.CommandContext(ctx, isleBin, args...)
	cmd.Env = append(append(os.Environ(), "XDG_RUNTIME_DIR="+rt, "ISLE_NODE="), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("isle %q did not end before the test's deadline", args)
	}
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), status: status}
}

func snapshot(t *testing.T, rt string, args ...string) isle.Snapshot {
	t.Helper()
	r := ctl(t, rt, nil, append([]string{"ps", "--json"}, args...)...)
	r.want(t, 0)
	var s isle.Snapshot
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("ps --json: %v\n%s", err, r.stdout)
	}
	return s
}

// oneLine checks that a failed command said one line containing want.
func oneLine(t *testing.T, r result, status int, want string) {
	t.Helper()
	r.want(t, status)
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(r.stderr, want) {
		t.Fatalf("stderr %q; want one line saying %q", r.stderr, want)
	}
}

// isle run of a small tree: ps shows it as a tree with the values its
// program sets up, inspect shows its handles, link, monitor and queued
// tags, logs -f sees a record logged after it started, kill kills, and
// isle run itself prints the log capability's records with their names.
func TestControlRunTree(t *testing.T) {
	t.Parallel()
	wasm := testwasm.C(t, "testdata/c/observed.c", "-O2")
	app := writeFile(t, t.TempDir(), "app.toml", fmt.Sprintf("module = %q\nstdio = true\n[caps.log]\nkind = \"log\"\n", wasm))
	rt := runtimeDir(t)
	node := startEnv(t, rt, false, "run", "--spawn", "observed="+wasm, app, "--", "main")
	main := node.wait(t, `^(\S+)\[(\d+)\]: ready$`)
	name, mainPID := main[1], main[2]
	s := snapshot(t, rt)
	if len(s.Processes) != 3 {
		t.Fatalf("%d processes, want 3: %+v", len(s.Processes), s.Processes)
	}
	root := s.Processes[0]
	if strconv.FormatUint(root.PID, 10) != mainPID || root.Parent != 0 || root.Name != name || root.Mailbox != 5 ||
		root.State != "waiting" || root.Fuel <= 0 || root.Memory == 0 || root.Uptime <= 0 {
		t.Fatalf("main process: %+v; want pid %s, no parent, 5 queued, waiting, fuel and memory", root, mainPID)
	}
	for _, c := range s.Processes[1:] {
		if c.Parent != root.PID || c.Mailbox != 0 || c.State != "waiting" || c.Fuel <= 0 {
			t.Fatalf("child: %+v; want parent %d, nothing queued, waiting", c, root.PID)
		}
	}
	linked, watched := s.Processes[1].PID, s.Processes[2].PID

	// The table: the children under main, indented.
	r := ctl(t, rt, nil, "ps")
	r.want(t, 0)
	tree := regexp.MustCompile(fmt.Sprintf(`(?m)^%d +%s +\S+ +waiting +\d+ +\S+ \S+ +5 .*\n%d +  %s .*\n%d +  %s `,
		root.PID, regexp.QuoteMeta(name), linked, regexp.QuoteMeta(name), watched, regexp.QuoteMeta(name)))
	if !tree.MatchString(r.stdout) || !strings.Contains(r.stdout, "3 processes, memory") {
		t.Fatalf("isle ps:\n%s", r.stdout)
	}

	r = ctl(t, rt, nil, "inspect", "--json", mainPID)
	r.want(t, 0)
	var d isle.ProcessDetail
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, h := range d.Handles {
		kinds = append(kinds, h.Kind+":"+strings.Join(h.Rights, ","))
	}
	slices.Sort(kinds)
	want := []string{"log:use", "process:send,monitor,kill", "process:send,monitor,kill", "process:send,monitor,kill", "spawner:use"}
	if !slices.Equal(kinds, want) {
		t.Errorf("handles %q, want %q", kinds, want)
	}
	if !slices.Equal(d.Links, []isle.Peer{{PID: linked}}) || !slices.Equal(d.Monitors, []isle.Peer{{PID: linked}, {PID: watched}}) {
		t.Errorf("links %+v, monitors %+v; want the link to %d and monitors by both children", d.Links, d.Monitors, linked)
	}
	if !slices.Equal(d.Tags, []uint32{9, 9, 9, 9, 9}) {
		t.Errorf("queued tags %v, want five 9s", d.Tags)
	}
	r = ctl(t, rt, nil, "inspect", mainPID)
	r.want(t, 0)
	if !strings.Contains(r.stdout, "queued tags (5): 0x9 0x9 0x9 0x9 0x9") || !strings.Contains(r.stdout, fmt.Sprintf("links: pid %d", linked)) {
		t.Errorf("isle inspect:\n%s", r.stdout)
	}

	// logs -f prints what was kept, then a record logged after it
	// started: main's, when the monitored child is killed.
	logs := startEnv(t, rt, true, "logs", "-f")
	logs.wait(t, fmt.Sprintf(`INFO +%s\[%s\]: ready$`, regexp.QuoteMeta(name), mainPID))
	ctl(t, rt, nil, "kill", strconv.FormatUint(watched, 10)).want(t, 0)
	logs.wait(t, fmt.Sprintf(`INFO +%s\[%s\]: child down$`, regexp.QuoteMeta(name), mainPID))
	node.wait(t, `^\S+\[`+mainPID+`\]: child down$`)
	if status := logs.stop(t, syscall.SIGINT); status != statusInterrupt {
		t.Errorf("logs -f: status %d after SIGINT", status)
	}

	r = ctl(t, rt, nil, "inspect", "--json", mainPID)
	r.want(t, 0)
	d = isle.ProcessDetail{}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.RecentExits) != 1 || d.RecentExits[0].PID != watched || d.RecentExits[0].Exit != "killed: killed by isle kill" {
		t.Errorf("recent exits %+v; want the killed child", d.RecentExits)
	}
	if n := len(snapshot(t, rt).Processes); n != 2 {
		t.Errorf("%d processes after the kill, want 2", n)
	}
	oneLine(t, ctl(t, rt, nil, "kill", strconv.FormatUint(watched, 10)), statusFailed, "no such process")
	oneLine(t, ctl(t, rt, nil, "inspect", "x"), statusUsage, `"x" is not a pid`)

	// isle logs without -f prints the kept records and ends.
	r = ctl(t, rt, nil, "logs")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "]: ready\n") || !strings.Contains(r.stdout, "]: child down\n") {
		t.Errorf("isle logs:\n%s", r.stdout)
	}

	sock := filepath.Join(rt, "isle", strconv.Itoa(node.cmd.Process.Pid)+".sock")
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the node's socket: %v", err)
	}
	node.stop(t, syscall.SIGINT)
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket still there after the node ended: %v", err)
	}
	oneLine(t, ctl(t, rt, nil, "ps"), statusFailed, "no isle node of yours is running")
}

// upApp starts isle up, with flags, with two supervised services and
// returns it and its socket.
func upApp(t *testing.T, rt string, flags ...string) (*started, string) {
	t.Helper()
	svc := testwasm.C(t, "testdata/c/svc.c", "-O2", "-mexec-model=reactor")
	app := writeFile(t, t.TempDir(), "app.toml", fmt.Sprintf(`
name = "demo"
[supervisor]
intensity = 10
[[service]]
name = "collector"
module = %q
args = ["collector"]
[[service]]
name = "helper"
module = %q
args = ["worker"]
`, svc, svc))
	s := startEnv(t, rt, false, append(append([]string{"up"}, flags...), app)...)
	sock := s.wait(t, `^isle: control socket (\S+) `)[1]
	s.wait(t, `^isle: demo is up`)
	return s, sock
}

// service finds the live process of a service in a snapshot.
func service(t *testing.T, s isle.Snapshot, name string) isle.ProcessInfo {
	t.Helper()
	for _, p := range s.Processes {
		if p.Service == name {
			return p
		}
	}
	t.Fatalf("no process of service %s in %+v", name, s.Processes)
	return isle.ProcessInfo{}
}

// isle up: ps shows the supervision tree, restart and kill restart a
// service (a kill counts as a crash, a restart not), top lists the
// services, and logs SERVICE shows its crash report.
func TestControlUp(t *testing.T) {
	t.Parallel()
	rt := runtimeDir(t)
	node, sock := upApp(t, rt)
	if filepath.Dir(sock) != filepath.Join(rt, "isle") {
		t.Fatalf("socket %s is not in %s/isle", sock, rt)
	}
	s := snapshot(t, rt, "--node", sock)
	if len(s.Supervisors) != 1 || s.Supervisors[0].Name != "demo" || len(s.Supervisors[0].Children) != 2 {
		t.Fatalf("supervisors %+v", s.Supervisors)
	}
	helper := service(t, s, "helper")
	if c := s.Supervisors[0].Children[1]; c.Name != "helper" || c.PID != helper.PID || helper.Supervisor != "demo" || helper.State != "idle" {
		t.Fatalf("helper child %+v, process %+v", c, helper)
	}
	r := ctl(t, rt, []string{"ISLE_NODE=" + sock}, "ps")
	r.want(t, 0)
	if !regexp.MustCompile(`(?m)^- +demo +supervisor *\n\d+ +  collector .*\n` + strconv.FormatUint(helper.PID, 10) + ` +  helper +\S+ +idle `).MatchString(r.stdout) {
		t.Fatalf("isle ps:\n%s", r.stdout)
	}

	ctl(t, rt, nil, "restart", "helper").want(t, 0)
	after := service(t, snapshot(t, rt), "helper")
	if after.PID == helper.PID || after.Restarts != 0 {
		t.Fatalf("after isle restart: %+v; want a new instance, no restart counted (was pid %d)", after, helper.PID)
	}
	ctl(t, rt, nil, "kill", strconv.FormatUint(after.PID, 10)).want(t, 0)
	var third isle.ProcessInfo
	testwasm.WaitFor(t, "helper to be restarted after its kill", func() bool {
		third = service(t, snapshot(t, rt), "helper")
		return third.PID != after.PID && third.Restarts == 1
	})
	var d isle.ProcessDetail
	r = ctl(t, rt, nil, "inspect", "--json", strconv.FormatUint(third.PID, 10))
	r.want(t, 0)
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	exits := map[uint64]string{}
	for _, e := range d.RecentExits {
		exits[e.PID] = e.Exit
	}
	if exits[after.PID] != "killed: killed by isle kill" || len(exits) != 2 {
		t.Errorf("recent exits of helper %+v; want both earlier instances, %d killed by isle kill", d.RecentExits, after.PID)
	}
	oneLine(t, ctl(t, rt, nil, "restart", "nosuch"), statusFailed, `no such service: "nosuch"`)

	r = ctl(t, rt, nil, "top", "--sort", "memory", "-n", "1")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "isle top: 2 processes") || !strings.Contains(r.stdout, "sorted by memory") ||
		!regexp.MustCompile(`(?m)^\+ +1 more `).MatchString(r.stdout) {
		t.Errorf("isle top:\n%s", r.stdout)
	}
	r = ctl(t, rt, nil, "logs", "helper")
	r.want(t, 0)
	if !strings.Contains(r.stdout, `ERROR crash report supervisor=demo service=helper restarts=0 reason="killed: killed by isle kill"`) ||
		strings.Contains(r.stdout, "service=collector") {
		t.Errorf("isle logs helper:\n%s", r.stdout)
	}
	if status := node.stop(t, syscall.SIGTERM); status != 0 {
		t.Fatalf("status %d", status)
	}
}

// With two nodes running, a command lists them and asks for --node.
func TestControlSeveralNodes(t *testing.T) {
	t.Parallel()
	rt := runtimeDir(t)
	_, a := upApp(t, rt)
	_, b := upApp(t, rt)
	r := ctl(t, rt, nil, "ps")
	r.want(t, statusFailed)
	if !strings.Contains(r.stderr, "2 isle nodes of yours are running; pick one with --node SOCKET") ||
		!strings.Contains(r.stderr, a) || !strings.Contains(r.stderr, b) {
		t.Fatalf("stderr:\n%s", r.stderr)
	}
	snapshot(t, rt, "--node", b)
}

// Another user cannot use the socket: the directory's mode stops them,
// and when it is opened up by mistake, the node itself refuses their uid.
func TestControlRefusesOtherUser(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root, to run the client as nobody with setpriv")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	rt := runtimeDir(t)
	node, sock := upApp(t, rt)
	// A copy of the CLI that nobody may run.
	bin, err := os.MkdirTemp("", "isle-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bin) })
	exe, err := os.ReadFile(isleBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "isle"), exe, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{bin, rt} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	asNobody := func() result {
		cmd := exec.CommandContext(testwasm.Context(t), setpriv, "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
			filepath.Join(bin, "isle"), "ps", "--node", sock)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errorsAs(err, &ee) {
			t.Fatal(err)
		}
		return result{stdout: stdout.String(), stderr: stderr.String(), status: cmd.ProcessState.ExitCode()}
	}
	oneLine(t, asNobody(), statusFailed, "connect to "+sock+": permission denied")

	// Opened up: the socket is reachable, and the node refuses by uid.
	if err := os.Chmod(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	r := asNobody()
	oneLine(t, r, statusFailed, "refused: uid 65534 is not this node's owner (uid 0)")
	if r.stdout != "" {
		t.Errorf("nobody got an answer:\n%s", r.stdout)
	}
	snapshot(t, rt, "--node", sock) // the owner still can
	node.stop(t, syscall.SIGTERM)
}

func errorsAs(err error, target **exec.ExitError) bool {
	ee, ok := err.(*exec.ExitError)
	*target = ee
	return ok
}
