package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/control"
	"github.com/isle-run/isle/internal/services/logsvc"
)

// statusFailed is the exit status of a control command that reached no
// node, or whose node refused or failed the request.
const statusFailed = 1

// startControl opens the node's control socket and returns how to close
// it. announce prints its path; a socket that cannot be opened is one
// warning, not a failure: the node runs without it.
func startControl(node *isle.Node, command string, stderr io.Writer, announce bool) (stop func()) {
	srv, err := control.Listen(node, command)
	if err != nil {
		fmt.Fprintf(stderr, "isle: warning: no control socket: %v\n", err)
		return func() {}
	}
	if announce {
		fmt.Fprintf(stderr, "isle: control socket %s (isle ps, top, logs...)\n", srv.Path())
	}
	return func() { _ = srv.Close() }
}

// ctlFlags are the flags every control command takes.
type ctlFlags struct {
	fs   *flag.FlagSet
	node *string
}

func newCtlFlags(name string) ctlFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return ctlFlags{fs: fs,
		node: fs.String("node", "", "the node's control `SOCKET` (default $"+control.EnvNode+", or your only running node)")}
}

// newJSONCtlFlags is the flags of ps and inspect.
func newJSONCtlFlags(name string) (ctlFlags, *bool) {
	f := newCtlFlags(name)
	return f, f.fs.Bool("json", false, "print it as JSON")
}

// newLogsFlags is the flags of logs.
func newLogsFlags() (ctlFlags, *bool) {
	f := newCtlFlags("logs")
	return f, f.fs.Bool("f", false, "follow: print new records as they come, until interrupted")
}

// The commands that act on a running node, for help and completion.
func init() {
	fsOf := func(f ctlFlags) *flag.FlagSet { return f.fs }
	commands = append(commands,
		command{name: "ps", usage: strings.TrimPrefix(psUsage, "usage: "),
			summary: "list a running node's processes, as a tree",
			about: `isle ps lists the processes of a running node as a tree: supervisors, their
services, and what each process spawned, with pid, state, fuel, memory,
mailbox depth, restarts and uptime. On a node of a cluster (isle up
--node), it lists every node's, under a NODE column, then each member's
state; a node that is down or does not answer says so. With --json, a
clustered node prints {"members": [...], "nodes": [{"node", "snapshot"}]}.`,
			flags: func() *flag.FlagSet { f, _ := newJSONCtlFlags("ps"); return fsOf(f) }, words: none},
		command{name: "top", usage: strings.TrimPrefix(topUsage, "usage: "),
			summary: "show a running node's busiest processes, live",
			about: `isle top shows the processes of a running node that spend the most fuel per
second (or hold the most memory, or queue the most messages), refreshed
every interval; the rest are added up. On a terminal, keys f, m and b
change the order and q quits.`,
			flags: func() *flag.FlagSet { return fsOf(newTopFlags(&topOptions{})) }, words: none},
		command{name: "inspect", usage: strings.TrimPrefix(inspectUsage, "usage: "),
			summary: "show one process of a running node in detail",
			about: `isle inspect shows a process's handles (kind and rights), links, monitors,
the tags of its queued messages and recent exits.`,
			flags: func() *flag.FlagSet { f, _ := newJSONCtlFlags("inspect"); return fsOf(f) }, words: none},
		command{name: "kill", usage: strings.TrimPrefix(killUsage, "usage: "),
			summary: "kill a process of a running node",
			about:   `isle kill kills the process PID of a running node; its links and monitors react, and its supervisor, if any, restarts it as it says.`,
			flags:   func() *flag.FlagSet { return fsOf(newCtlFlags("kill")) }, words: none},
		command{name: "restart", usage: strings.TrimPrefix(restartUsage, "usage: "),
			summary: "restart a service of a running node, gracefully",
			about:   `isle restart stops the service SERVICE (a path such as front/web, or a name alone if unique) gracefully and starts it again, not counted against its supervisor's intensity.`,
			flags:   func() *flag.FlagSet { return fsOf(newCtlFlags("restart")) }, words: none},
		command{name: "logs", usage: strings.TrimPrefix(logsUsage, "usage: "),
			summary: "print a running node's recent log records, or follow them",
			about:   `isle logs prints the recent records of a running node's log (the log capability's among them), of one service if named; -f follows new ones until interrupted.`,
			flags:   func() *flag.FlagSet { f, _ := newLogsFlags(); return fsOf(f) }, words: none},
	)
}

// parse parses args, flags before or after the operands, and checks
// there are want operands.
func (f ctlFlags) parse(args []string, usage string, want int) ([]string, error) {
	var operands []string
	for {
		if err := f.fs.Parse(args); err != nil {
			return nil, usagef("%v; %s", err, usage)
		}
		args = f.fs.Args()
		if len(args) == 0 {
			break
		}
		operands = append(operands, args[0])
		args = args[1:]
	}
	if len(operands) > want {
		return nil, usagef("%s", usage)
	}
	return operands, nil
}

// connect finds the node and connects to it.
func (f ctlFlags) connect() (*control.Client, error) {
	path, err := control.Find(*f.node)
	if err != nil {
		return nil, err
	}
	return control.Dial(path)
}

// do connects, sends one request and returns its answer.
func (f ctlFlags) do(req control.Request) (control.Response, error) {
	c, err := f.connect()
	if err != nil {
		return control.Response{}, err
	}
	defer c.Close()
	return c.Do(req)
}

// failed prints err as isle's one line and returns statusFailed.
func failed(stderr io.Writer, err error) (int, error) {
	fmt.Fprintf(stderr, "isle: %v\n", err)
	return statusFailed, nil
}

const (
	psUsage      = "usage: isle ps [--node SOCKET] [--json]"
	inspectUsage = "usage: isle inspect [--node SOCKET] [--json] PID"
	killUsage    = "usage: isle kill [--node SOCKET] PID"
	restartUsage = "usage: isle restart [--node SOCKET] SERVICE"
	logsUsage    = "usage: isle logs [--node SOCKET] [-f] [SERVICE]"
)

// psCmd prints the node's process tree.
func psCmd(args []string, stdout, stderr io.Writer) (int, error) {
	f, asJSON := newJSONCtlFlags("ps")
	if _, err := f.parse(args, psUsage, 0); err != nil {
		return 0, err
	}
	r, err := f.do(control.Request{Op: control.OpPS, Cluster: true})
	if err != nil {
		return failed(stderr, err)
	}
	if r.Cluster != nil {
		if *asJSON {
			return 0, json.NewEncoder(stdout).Encode(r.Cluster)
		}
		printCluster(stdout, r.Cluster)
		return 0, nil
	}
	if *asJSON {
		return 0, json.NewEncoder(stdout).Encode(r.Snapshot)
	}
	printTree(stdout, r.Snapshot)
	return 0, nil
}

// parsePID reads a PID operand.
func parsePID(ops []string, usage string) (uint64, error) {
	if len(ops) != 1 {
		return 0, usagef("%s", usage)
	}
	pid, err := strconv.ParseUint(ops[0], 10, 64)
	if err != nil || pid == 0 {
		return 0, usagef("%q is not a pid; %s", ops[0], usage)
	}
	return pid, nil
}

// inspectCmd prints one process in detail.
func inspectCmd(args []string, stdout, stderr io.Writer) (int, error) {
	f, asJSON := newJSONCtlFlags("inspect")
	ops, err := f.parse(args, inspectUsage, 1)
	if err != nil {
		return 0, err
	}
	pid, err := parsePID(ops, inspectUsage)
	if err != nil {
		return 0, err
	}
	r, err := f.do(control.Request{Op: control.OpInspect, PID: pid})
	if err != nil {
		return failed(stderr, err)
	}
	if *asJSON {
		return 0, json.NewEncoder(stdout).Encode(r.Detail)
	}
	printDetail(stdout, r.Detail)
	return 0, nil
}

// killCmd kills a process.
func killCmd(args []string, stderr io.Writer) (int, error) {
	f := newCtlFlags("kill")
	ops, err := f.parse(args, killUsage, 1)
	if err != nil {
		return 0, err
	}
	pid, err := parsePID(ops, killUsage)
	if err != nil {
		return 0, err
	}
	if _, err := f.do(control.Request{Op: control.OpKill, PID: pid}); err != nil {
		return failed(stderr, err)
	}
	return 0, nil
}

// restartCmd restarts a supervised service.
func restartCmd(args []string, stderr io.Writer) (int, error) {
	f := newCtlFlags("restart")
	ops, err := f.parse(args, restartUsage, 1)
	if err != nil {
		return 0, err
	}
	if len(ops) != 1 {
		return 0, usagef("%s", restartUsage)
	}
	if _, err := f.do(control.Request{Op: control.OpRestart, Service: ops[0]}); err != nil {
		return failed(stderr, err)
	}
	return 0, nil
}

// logsCmd prints the node's kept log records, of one service if named,
// and with -f goes on printing new ones until interrupted.
func logsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	f, follow := newLogsFlags()
	ops, err := f.parse(args, logsUsage, 1)
	if err != nil {
		return 0, err
	}
	req := control.Request{Op: control.OpLogs, Follow: *follow}
	if len(ops) == 1 {
		req.Service = ops[0]
	}
	c, err := f.connect()
	if err != nil {
		return failed(stderr, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Send(req); err != nil {
		return failed(stderr, err)
	}
	for {
		r, err := c.Next()
		switch {
		case ctx.Err() != nil:
			return statusInterrupt, nil
		case errors.Is(err, io.EOF) || (err == nil && r.Done):
			return 0, nil
		case err != nil:
			return failed(stderr, err)
		}
		if r.Log != nil {
			printRecord(stdout, r.Log)
		}
	}
}

// printRecord prints one log record on one line: the log capability's as
// "NAME[PID]: message", the node's with their attributes.
func printRecord(w io.Writer, r *isle.LogRecord) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-5s ", r.Time.Local().Format("15:04:05.000"), r.Level)
	if r.Attr(logsvc.MarkKey) == logsvc.Mark {
		fmt.Fprintf(&b, "%s[%s]: %s", printable(r.Attr("name")), r.Attr("pid"), printable(r.Message))
	} else {
		b.WriteString(printable(r.Message))
		for _, a := range r.Attrs {
			v := a.Value
			if v == "" || strings.ContainsAny(v, " \"=") || printable(v) != v {
				v = strconv.Quote(v)
			}
			fmt.Fprintf(&b, " %s=%s", a.Key, v)
		}
	}
	b.WriteByte('\n')
	_, _ = io.WriteString(w, b.String())
}

// roundDuration rounds d to what a person reads: seconds, or milliseconds
// below one.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}
