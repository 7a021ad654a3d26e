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
	f.creds = fs.String("credentials", "", "the `DIR` isle cluster init made (default "+defaultCredentials+" beside APP.toml; with --nats, optional: members then sign and seal their traffic)")
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
		if len(cc.Join) > 0 || *f.advertise != "" {
			return nil, usagef("--nats uses an existing NATS for the cluster: leave out --join and --advertise")
		}
		cc.NATSURL = *f.natsURL
		// Optional: members then sign and seal what they send one another,
		// instead of trusting the deployment's permissions.
		cc.Credentials = *f.creds
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
	byName    map[string]*manifest.Service // every top-level service
	// users are, for each service that local services reach through a
	// handle of this node's (not as siblings in one tree), those services.
	users map[string][]string
	// failover are the services that fail over and may run here, each
	// under a supervisor of its own with the root's settings.
	failover []*manifest.Supervisor

	handles   map[string]*isle.Service // made by connect
	followers map[string]*follower
	runners   []*runner
	follow    context.Context // ends at halt
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	gaveUp    chan string // a failover tree that gave up
}

// placeFor returns the part of app's root supervisor that runs on the
// node cc names, and how it meets the others; the whole root, and no
// placement, for a node not in a cluster or an app that places nothing.
func placeFor(app *manifest.App, cc *isle.ClusterConfig, timeout time.Duration) (*manifest.Supervisor, *placement, error) {
	if cc == nil || !app.Placed {
		return &app.Root, nil, nil
	}
	pl := &placement{self: cc.Name, app: app.Name, timeout: timeout, byName: map[string]*manifest.Service{},
		users: map[string][]string{}, handles: map[string]*isle.Service{}, followers: map[string]*follower{},
		gaveUp: make(chan string, len(app.Root.Services))}
	pl.follow, pl.cancel = context.WithCancel(context.Background())
	for i := range app.Root.Services {
		pl.byName[app.Root.Services[i].Name] = &app.Root.Services[i]
	}
	root := app.Root
	root.Services = nil
	for i := range app.Root.Services {
		s := &app.Root.Services[i]
		for _, u := range s.Uses {
			if pl.siblings(s, pl.byName[u]) {
				continue
			}
			if pl.byName[u].Supervisor != nil {
				return nil, nil, usagef("%s: %s.uses: %s is a supervisor on another node; only a program service can be used across nodes",
					app.Path, s.Key, u)
			}
			if slices.Contains(s.Nodes, pl.self) {
				pl.users[u] = append(pl.users[u], s.Name)
			}
		}
		switch {
		case pl.fixedHere(s):
			root.Services = append(root.Services, *s)
		case slices.Contains(s.Nodes, pl.self):
			one := app.Root
			one.Services = []manifest.Service{*s}
			pl.failover = append(pl.failover, &one)
		}
	}
	return &root, pl, nil
}

// fixedHere reports whether s runs on this node only, in its root tree.
func (pl *placement) fixedHere(s *manifest.Service) bool {
	return !s.FailsOver() && s.Node == pl.self
}

// siblings reports whether s and u always run in one tree, so that s
// uses u as a sibling.
func (pl *placement) siblings(s, u *manifest.Service) bool {
	return !s.FailsOver() && !u.FailsOver() && s.Node == u.Node
}

// reachers are the other nodes that reach service name through this
// node: the nodes of its users, and the others that may run it (which
// look it up before starting it).
func (pl *placement) reachers(name string) []string {
	var out []string
	add := func(nodes []string) {
		for _, n := range nodes {
			if n != pl.self && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	for _, s := range pl.byName {
		if slices.Contains(s.Uses, name) && !pl.siblings(s, pl.byName[name]) {
			add(s.Nodes)
		}
	}
	if s := pl.byName[name]; s.FailsOver() {
		add(s.Nodes)
	}
	slices.Sort(out)
	return out
}

// publishName is what a service is published under in the cluster.
func (pl *placement) publishName(service string) string { return "app/" + pl.app + "/" + service }

// remoteRights are what a remote use grants, as a local one does.
const remoteRights = api.RightSend | api.RightMonitor

// connect gives every service that local services reach through a handle
// its handle: the root tree's own service for one that runs here, one
// that follows it across nodes otherwise. It publishes the root services
// other nodes use, waits for the services local ones use that cannot run
// here, and grants the handles in spec. Publishing first means nodes that
// use each other's services do not wait for each other.
func (pl *placement) connect(ctx context.Context, u *upper, spec *isle.SupervisorSpec) error {
	node := u.node
	for i := range spec.Children {
		c := &spec.Children[i]
		others := pl.reachers(c.Name)
		if _, used := pl.users[c.Name]; !used && len(others) == 0 {
			continue
		}
		c.Service = node.NewService(c.Name)
		pl.handles[c.Name] = c.Service
		if len(others) > 0 {
			if err := node.Publish(pl.publishName(c.Name), isle.ServiceCap(c.Service, remoteRights), others...); err != nil {
				return err
			}
		}
	}
	for _, s := range pl.failover {
		pl.handles[s.Services[0].Name] = node.NewService(s.Services[0].Name)
	}
	for name := range pl.users {
		if pl.handles[name] == nil {
			pl.handles[name] = node.NewService(name)
		}
	}
	for _, s := range pl.failover {
		if err := pl.addRunner(ctx, u, s); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(pl.users)) {
		if !pl.fixedHere(pl.byName[name]) {
			pl.startFollower(node, name, u.stderr)
		}
	}
	if err := pl.waitFound(ctx, u.stderr); err != nil {
		return err
	}
	for i := range spec.Children {
		if err := pl.grant(&spec.Children[i]); err != nil {
			return err
		}
	}
	return nil
}

// waitFound waits for a first instance of each service local ones use
// that cannot run here, saying so if it takes a while.
func (pl *placement) waitFound(ctx context.Context, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, pl.timeout)
	defer cancel()
	for _, name := range slices.Sorted(maps.Keys(pl.followers)) {
		f := pl.followers[name]
		if slices.Contains(f.nodes, pl.self) {
			continue // it may start here: not worth waiting for
		}
		on := strings.Join(f.nodes, " or ")
		select {
		case <-f.found:
			continue
		case <-ctx.Done():
		case <-time.After(time.Second):
			fmt.Fprintf(stderr, "isle: waiting for node %s to offer service %s (used by %s)\n", on, name, strings.Join(f.users, ", "))
		}
		select {
		case <-f.found:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("node %s did not offer service %s within %v: is isle up --node %s running and joined to this cluster?",
					on, name, pl.timeout, on)
			}
			return ctx.Err()
		}
	}
	return nil
}

// grant replaces c's uses of services that are not its siblings with
// grants of this node's handles to them.
func (pl *placement) grant(c *isle.ChildSpec) error {
	var local []string
	caps := maps.Clone(c.Grants.Caps)
	if caps == nil {
		caps = map[string]isle.Capability{}
	}
	for _, u := range c.Uses {
		if pl.siblings(pl.byName[c.Name], pl.byName[u]) {
			local = append(local, u)
			continue
		}
		if _, dup := caps[u]; dup {
			return fmt.Errorf("service %s: grant name %q is used twice", c.Name, u)
		}
		caps[u] = isle.ServiceCap(pl.handles[u], remoteRights)
	}
	c.Uses, c.Grants.Caps = local, caps
	return nil
}

// halt ends the following and the failover decisions, and waits for
// them: before the node closes, so that its own end is not reported as
// services lost.
func (pl *placement) halt() {
	pl.cancel()
	pl.wg.Wait()
}

// stop halts, then stops the failover trees started here, before the
// root tree is stopped.
func (pl *placement) stop(ctx context.Context) error {
	pl.halt()
	var errs []error
	for i := len(pl.runners) - 1; i >= 0; i-- {
		if sup := pl.runners[i].started(); sup != nil {
			errs = append(errs, sup.Stop(ctx))
		}
	}
	return errors.Join(errs...)
}
