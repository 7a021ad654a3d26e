package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/manifest"
)

// defaultRoutes is where a node accepts cluster routes unless --cluster
// says: loopback, so that nothing is exposed unless asked for.
const defaultRoutes = "127.0.0.1:7422"

// clusterOnly are the flags that mean nothing without --node.
var clusterOnly = map[string]bool{"cluster": true, "advertise": true, "join": true, "credentials": true,
	"nats": true, "nats-creds": true, "start-timeout": true}

// defaultCredentials is the credentials directory beside APP.toml.
const defaultCredentials = "isle-cluster"

// clusterFlags are the cluster flags of `isle up`.
type clusterFlags struct {
	node, listen, advertise, creds, natsURL, natsCreds *string
	join                                               *joinFlag
	startTimeout                                       *durationFlag
}

// joinFlag collects repeated --join ADDR values.
type joinFlag []string

func (f *joinFlag) String() string { return strings.Join(*f, ",") }

func (f *joinFlag) Set(v string) error {
	for _, a := range strings.Split(v, ",") {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("%q is not HOST:PORT, another node's --cluster address", a)
		}
		*f = append(*f, a)
	}
	return nil
}

func newClusterUpFlags(fs *flag.FlagSet) clusterFlags {
	f := clusterFlags{join: new(joinFlag), startTimeout: new(durationFlag)}
	*f.startTimeout = durationFlag(2 * time.Minute)
	f.node = fs.String("node", "", "join a cluster as node `NAME`, running the services the manifest places there")
	f.listen = fs.String("cluster", defaultRoutes, "accept other nodes' routes at `ADDR` (a port alone stays on loopback)")
	f.advertise = fs.String("advertise", "", "the `ADDR` other nodes should dial, behind a proxy or NAT")
	fs.Var(f.join, "join", "join the node whose --cluster is `ADDR` (repeatable)")
	f.creds = fs.String("credentials", "", "the `DIR` isle cluster init made (default "+defaultCredentials+" beside APP.toml)")
	f.natsURL = fs.String("nats", "", "use the NATS at `URL` instead of routes of its own")
	f.natsCreds = fs.String("nats-creds", "", "the NATS credentials `FILE` for --nats")
	fs.Var(f.startTimeout, "start-timeout", "how long to wait for the services other nodes offer")
	return f
}

// config is the node's cluster configuration, nil without --node.
func (f clusterFlags) config(app *manifest.App, fs *flag.FlagSet) (*isle.ClusterConfig, error) {
	if *f.node == "" {
		var set []string
		fs.Visit(func(fl *flag.Flag) {
			if clusterOnly[fl.Name] {
				set = append(set, "--"+fl.Name)
			}
		})
		switch {
		case app.Placed:
			return nil, usagef("%s places its services on nodes %s: run isle up --node NAME on each", app.Path, strings.Join(app.Nodes(), ", "))
		case len(set) > 0:
			return nil, usagef("%s: only for a node of a cluster; add --node NAME", strings.Join(set, ", "))
		}
		return nil, nil
	}
	if err := checkNodeName(*f.node); err != nil {
		return nil, usagef("--node: %v", err)
	}
	if app.Placed && !slices.Contains(app.Nodes(), *f.node) {
		return nil, usagef("%s places no service on node %s; its nodes are %s", app.Path, *f.node, strings.Join(app.Nodes(), ", "))
	}
	cc := &isle.ClusterConfig{Name: *f.node, Join: *f.join, Advertise: *f.advertise}
	if *f.natsURL != "" {
		if len(cc.Join) > 0 || *f.creds != "" || *f.advertise != "" {
			return nil, usagef("--nats uses an existing NATS for the cluster: leave out --join, --advertise and --credentials")
		}
		cc.NATSURL = *f.natsURL
		if *f.natsCreds != "" {
			cc.NATSOptions = []nats.Option{nats.UserCredentials(*f.natsCreds)}
		}
		return cc, nil
	}
	if *f.natsCreds != "" {
		return nil, usagef("--nats-creds goes with --nats URL")
	}
	cc.Listen = *f.listen
	if !strings.Contains(cc.Listen, ":") {
		cc.Listen = "127.0.0.1:" + cc.Listen // a port alone
	}
	if _, _, err := net.SplitHostPort(cc.Listen); err != nil {
		return nil, usagef("--cluster %q is not HOST:PORT or PORT", *f.listen)
	}
	cc.Credentials = *f.creds
	if cc.Credentials == "" {
		cc.Credentials = filepath.Join(filepath.Dir(app.Path), defaultCredentials)
	}
	for _, name := range []string{"ca.crt", cc.Name + ".crt", cc.Name + ".key"} {
		if _, err := os.Stat(filepath.Join(cc.Credentials, name)); err != nil {
			return nil, usagef("no cluster credentials for node %s in %s (no %s): make them with isle cluster init %s --node %s, or pass --credentials DIR",
				cc.Name, cc.Credentials, name, cc.Credentials, cc.Name)
		}
	}
	return cc, nil
}

// clusterStartError says which node failed to start, and how.
func clusterStartError(cc *isle.ClusterConfig, err error) error {
	if cc == nil {
		return err
	}
	return fmt.Errorf("node %s could not join its cluster: %w", cc.Name, err)
}

// announceNode says where the node is, for others to --join.
func announceNode(node *isle.Node, cc *isle.ClusterConfig, stderr io.Writer) {
	if addr := node.ClusterAddr(); addr != "" {
		fmt.Fprintf(stderr, "isle: node %s: routes on %s (others join with --join %s)\n", cc.Name, addr, addr)
	} else {
		fmt.Fprintf(stderr, "isle: node %s: on NATS %s\n", cc.Name, cc.NATSURL)
	}
}

// placement is what one node of a placed app runs and shares.
type placement struct {
	self, app string
	timeout   time.Duration
	// remote is, for each service this node's services use but another
	// node runs, that node; users are the local services that use it.
	remote map[string]string
	users  map[string][]string
	// offer is, for each local service used from other nodes, those nodes.
	offer map[string][]string

	remotes map[string]*isle.Remote // found by connect
}

// placeFor returns the part of app's root supervisor that runs on the
// node cc names, and how it meets the others; the whole root, and no
// placement, for a node not in a cluster or an app that places nothing.
func placeFor(app *manifest.App, cc *isle.ClusterConfig, timeout time.Duration) (*manifest.Supervisor, *placement, error) {
	if cc == nil || !app.Placed {
		return &app.Root, nil, nil
	}
	nodeOf := map[string]string{}
	for _, s := range app.Root.Services {
		nodeOf[s.Name] = s.Node
	}
	pl := &placement{self: cc.Name, app: app.Name, timeout: timeout, remote: map[string]string{}, users: map[string][]string{},
		offer: map[string][]string{}}
	root := app.Root
	root.Services = nil
	for _, s := range app.Root.Services {
		for _, u := range s.Uses {
			if nodeOf[u] == nodeOf[s.Name] {
				continue
			}
			switch cc.Name {
			case s.Node:
				pl.remote[u] = nodeOf[u]
				pl.users[u] = append(pl.users[u], s.Name)
			case nodeOf[u]:
				if !slices.Contains(pl.offer[u], s.Node) {
					pl.offer[u] = append(pl.offer[u], s.Node)
				}
			}
		}
		if s.Node == cc.Name {
			root.Services = append(root.Services, s)
		}
	}
	for _, s := range app.Root.Services {
		if s.Supervisor != nil && (pl.remote[s.Name] != "" || len(pl.offer[s.Name]) > 0) {
			return nil, nil, usagef("%s: %s.uses: %s is a supervisor on another node; only a program service can be used across nodes",
				app.Path, s.Key, s.Name)
		}
	}
	return &root, pl, nil
}

// publishName is what a service is published under in the cluster.
func (pl *placement) publishName(service string) string { return "app/" + pl.app + "/" + service }

// remoteRights are what a remote use grants, as a local one does.
const remoteRights = api.RightSend | api.RightMonitor

// connect publishes the local services other nodes use, then finds the
// remote services local ones use, and grants them in spec under their
// names. Publishing first means nodes that use each other's services do
// not wait for each other.
func (pl *placement) connect(ctx context.Context, node *isle.Node, spec *isle.SupervisorSpec, stderr io.Writer) error {
	for i := range spec.Children {
		c := &spec.Children[i]
		if nodes := pl.offer[c.Name]; len(nodes) > 0 {
			c.Service = node.NewService(c.Name)
			if err := node.Publish(pl.publishName(c.Name), isle.ServiceCap(c.Service, remoteRights), nodes...); err != nil {
				return err
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, pl.timeout)
	defer cancel()
	pl.remotes = map[string]*isle.Remote{}
	for _, u := range slices.Sorted(maps.Keys(pl.remote)) {
		r, err := pl.lookup(ctx, node, u, stderr)
		if err != nil {
			return err
		}
		pl.remotes[u] = r
	}
	for i := range spec.Children {
		if err := pl.grant(&spec.Children[i]); err != nil {
			return err
		}
	}
	return nil
}

// lookup finds service u on its node, saying so if it takes a while.
func (pl *placement) lookup(ctx context.Context, node *isle.Node, u string, stderr io.Writer) (*isle.Remote, error) {
	on := pl.remote[u]
	quick, cancel := context.WithTimeout(ctx, time.Second)
	r, err := node.Lookup(quick, on, pl.publishName(u))
	cancel()
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return r, pl.lookupError(ctx, u, err)
	}
	fmt.Fprintf(stderr, "isle: waiting for node %s to offer service %s (used by %s)\n", on, u, strings.Join(pl.users[u], ", "))
	r, err = node.Lookup(ctx, on, pl.publishName(u))
	return r, pl.lookupError(ctx, u, err)
}

func (pl *placement) lookupError(ctx context.Context, u string, err error) error {
	if err == nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	on := pl.remote[u]
	return fmt.Errorf("node %s did not offer service %s within %v: is isle up --node %s running and joined to this cluster?", on, u, pl.timeout, on)
}

// grant replaces c's uses of remote services with grants of them.
func (pl *placement) grant(c *isle.ChildSpec) error {
	var local []string
	caps := maps.Clone(c.Grants.Caps)
	if caps == nil {
		caps = map[string]isle.Capability{}
	}
	for _, u := range c.Uses {
		r := pl.remotes[u]
		if r == nil {
			local = append(local, u)
			continue
		}
		if _, dup := caps[u]; dup {
			return fmt.Errorf("service %s: grant name %q is used twice", c.Name, u)
		}
		caps[u] = isle.RemoteCap(r, remoteRights)
	}
	c.Uses, c.Grants.Caps = local, caps
	return nil
}

// watch says when a remote service this node uses is lost, until the
// returned stop is called (before the node closes and ends them all).
func (pl *placement) watch(stderr io.Writer) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for u, r := range pl.remotes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-quit:
			case <-r.Done():
				exit, _ := r.Exit()
				fmt.Fprintf(stderr, "isle: lost service %s on node %s (%s): %s can no longer reach it\n",
					u, r.Node(), exit, strings.Join(pl.users[u], ", "))
			}
		}()
	}
	return func() { close(quit); wg.Wait() }
}
