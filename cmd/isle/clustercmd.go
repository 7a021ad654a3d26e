package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/isle-run/isle"
)

const clusterUsage = "usage: isle cluster init DIR [--node NAME ...]"

// nodeName is what a node may be called, as internal/cluster checks it.
var nodeName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// namesFlag collects repeated --node NAME values.
type namesFlag []string

func (f *namesFlag) String() string { return strings.Join(*f, ",") }

func (f *namesFlag) Set(v string) error {
	for _, n := range strings.Split(v, ",") {
		if err := checkNodeName(n); err != nil {
			return err
		}
		*f = append(*f, n)
	}
	return nil
}

func checkNodeName(n string) error {
	if !nodeName.MatchString(n) {
		return fmt.Errorf("node name %q: use 1 to 64 of the characters A-Z a-z 0-9 _ -", n)
	}
	return nil
}

func newClusterFlags(nodes *namesFlag) *flag.FlagSet {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(nodes, "node", "issue a certificate and key for node `NAME` (repeatable, or a,b,c)")
	return fs
}

func init() {
	commands = append(commands, command{
		name:    "cluster",
		usage:   strings.TrimPrefix(clusterUsage, "usage: "),
		summary: "make a cluster's credentials: its CA and each node's certificate",
		about: `isle cluster init makes DIR's cluster CA if DIR has none, and a certificate
and key for each node named with --node, signed by it. Nodes' routes use
them for mutual TLS (isle up --node NAME --credentials DIR). Each node
needs DIR/ca.crt and its own NAME.crt and NAME.key; ca.key, which issues
new nodes, can stay where it was made. Existing files are never
overwritten.`,
		flags: func() *flag.FlagSet { return newClusterFlags(new(namesFlag)) },
		words: func() []string { return []string{"init"} },
	})
}

// clusterCmd runs `isle cluster init`.
func clusterCmd(args []string, stderr io.Writer) (int, error) {
	var nodes namesFlag
	set := newClusterFlags(&nodes)
	var ops []string
	for {
		if err := set.Parse(args); err != nil {
			return 0, usagef("%v; %s", flagError(set, args, err), clusterUsage)
		}
		if set.NArg() == 0 {
			break
		}
		ops = append(ops, set.Arg(0))
		args = set.Args()[1:]
	}
	if len(ops) != 2 || ops[0] != "init" {
		return 0, usagef("%s", clusterUsage)
	}
	dir := ops[1]
	if err := checkFree(dir, nodes); err != nil {
		return 0, usagef("%v", err)
	}
	_, err := os.Stat(filepath.Join(dir, "ca.crt"))
	made := errors.Is(err, fs.ErrNotExist)
	if err := isle.InitCluster(dir, nodes...); err != nil {
		return 0, err
	}
	if made {
		fmt.Fprintf(stderr, "isle: made the cluster CA %s (keep ca.key private: it issues nodes)\n", filepath.Join(dir, "ca.crt"))
	}
	for _, n := range nodes {
		fmt.Fprintf(stderr, "isle: issued node %s: %s, %s\n", n, filepath.Join(dir, n+".crt"), filepath.Join(dir, n+".key"))
	}
	return 0, nil
}

// checkFree refuses before anything is written: a node named twice, or
// whose files exist, or a CA certificate without its key.
func checkFree(dir string, nodes []string) error {
	seen := map[string]bool{}
	for _, n := range nodes {
		if seen[n] {
			return fmt.Errorf("node %q is named twice", n)
		}
		seen[n] = true
		for _, ext := range []string{".crt", ".key"} {
			p := filepath.Join(dir, n+ext)
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("%s already exists: node %s has credentials; remove %s.crt and %s.key to issue new ones", p, n, n, n)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.crt")); err == nil {
		if _, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil && len(nodes) > 0 {
			return fmt.Errorf("%s has ca.crt but no ca.key: issue nodes where the CA was made", dir)
		}
	} else if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}
