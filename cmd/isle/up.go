package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/manifest"
	"github.com/isle-run/isle/internal/supervisor"
)

const upUsage = "usage: isle up [--cache-dir DIR] [--data-dir DIR] [--kv-max SIZE] [--admin ADDR] [--keep-instances] [--node NAME [cluster flags]] APP.toml"

// upFlags are the flags of `isle up`.
type upFlags struct {
	cacheDir, dataDir, admin *string
	kvMax                    *kvMaxFlag
	keepInstances            *bool
	cluster                  clusterFlags
}

// newUpFlags returns the flags of `isle up`.
func newUpFlags() (*flag.FlagSet, upFlags) {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := upFlags{
		cacheDir: fs.String("cache-dir", isle.DefaultCacheDir(), "where compiled modules are cached"),
		dataDir:  fs.String("data-dir", defaultDataDir(), "where durable state lives, unless the manifest says"),
		admin:    fs.String("admin", "", "serve the dashboard and /metrics at this address, over the manifest's admin"),
		kvMax:    new(kvMaxFlag),
		keepInstances: fs.Bool("keep-instances", false,
			"instantiate every reactor in its spawn and keep its instance while it idles (no dormant reactors: README, \"Dormant reactors\")"),
		cluster: newClusterUpFlags(fs),
	}
	fs.Var(f.kvMax, "kv-max", kvMaxUsage)
	return fs, f
}

// upCmd runs an application: a supervision tree of services declared in a
// manifest, until SIGINT or SIGTERM; then it stops the tree in order and
// exits 0. If the root supervisor gives up, it exits statusAbandoned.
func upCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	fs, f := newUpFlags()
	cacheDir, dataDir, adminFlag := f.cacheDir, f.dataDir, f.admin
	if err := fs.Parse(args); err != nil {
		return 0, usagef("%v; %s", flagError(fs, args, err), upUsage)
	}
	if fs.NArg() != 1 {
		return 0, usagef("%s", upUsage)
	}
	path := fs.Arg(0)
	app, err := manifest.LoadApp(path)
	if err != nil {
		return 0, usagef("%v", err)
	}
	if app.DataDir == "" {
		app.DataDir = *dataDir
	}
	cc, err := f.cluster.config(app, fs)
	if err != nil {
		return 0, err
	}
	root, pl, err := placeFor(app, cc, time.Duration(*f.cluster.startTimeout))
	if err != nil {
		return 0, err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	tp, stopTracing, err := startTracing(ctx, stderr)
	if err != nil {
		return 0, err
	}
	defer stopTracing() // after the node closes, so its last spans go too
	node, err := isle.NewNode(ctx, isle.Config{CacheDir: *cacheDir, DataDir: app.DataDir, KVMaxBytes: int64(*f.kvMax), Logger: logger,
		TracerProvider: tp, Cluster: cc, KeepInstances: *f.keepInstances})
	if err != nil {
		return 0, clusterStartError(cc, err)
	}
	defer func() {
		// Its services are stopped by now; what is left gets a bounded end.
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		node.Close(cctx)
	}()
	if cc != nil {
		announceNode(node, cc, stderr)
	}
	if addr := cmp.Or(*adminFlag, app.Admin); addr != "" {
		stopAdmin, err := startAdmin(node, addr, stderr)
		if err != nil {
			return 0, err
		}
		defer stopAdmin()
	}
	u := &upper{path: path, cacheDir: *cacheDir, node: node, stdin: stdin, stdout: stdout, stderr: stderr,
		modules: map[string]*isle.Module{}}
	spec, err := u.spec(ctx, app.Name, root)
	if err != nil {
		if ctx.Err() != nil {
			return statusInterrupt, nil
		}
		return 0, err
	}
	// Listen before anything starts, so that a port in use stops the app
	// before any service has run.
	listeners, err := u.listen(root, "")
	if err != nil {
		return 0, err
	}
	defer startControl(node, "isle up "+path, stderr, true)()
	if pl != nil {
		defer pl.halt()
		if err := pl.connect(ctx, u, &spec); err != nil {
			closeAll(listeners)
			if ctx.Err() != nil {
				return statusInterrupt, nil
			}
			return 0, err
		}
	}
	sup, err := node.Supervise(ctx, spec)
	if err != nil {
		closeAll(listeners)
		return 0, err
	}
	var gaveUp chan string // nil, never ready, without failover
	if pl != nil {
		pl.run()
		gaveUp = pl.gaveUp
	}
	stopHTTP := u.serve(sup, listeners)
	fmt.Fprintf(stderr, "isle: %s is up: %s%s; stop it with Ctrl-C\n", app.Name, u.summary(root), pl.summary())
	select {
	case <-ctx.Done():
		stopHTTP()
		stopCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if pl != nil {
			if err := pl.stop(stopCtx); err != nil {
				return 0, fmt.Errorf("stopping %s: %w", app.Name, err)
			}
		}
		if err := sup.Stop(stopCtx); err != nil {
			return 0, fmt.Errorf("stopping %s: %w", app.Name, err)
		}
		fmt.Fprintf(stderr, "isle: %s stopped\n", app.Name)
		return 0, nil
	case <-sup.Done():
		stopHTTP()
		fmt.Fprintf(stderr, "isle: %s gave up: its root supervisor %s\n", app.Name, sup.Exit())
		return statusAbandoned, nil
	case why := <-gaveUp:
		stopHTTP()
		fmt.Fprintf(stderr, "isle: %s gave up: %s\n", app.Name, why)
		return statusAbandoned, nil
	}
}

// upper builds and runs one application.
type upper struct {
	path, cacheDir string
	node           *isle.Node
	stdin          io.Reader
	stdout, stderr io.Writer
	modules        map[string]*isle.Module // by module path
}

// spec turns a manifest supervisor into the API's, loading every module.
func (u *upper) spec(ctx context.Context, name string, s *manifest.Supervisor) (isle.SupervisorSpec, error) {
	strategy, _ := supervisor.ParseStrategy(s.Strategy) // validated by the manifest
	spec := isle.SupervisorSpec{Name: name, Strategy: strategy, Intensity: s.Intensity, Period: s.Period,
		Backoff: isle.Backoff{Min: s.BackoffMin, Max: s.BackoffMax}}
	for _, svc := range s.Services {
		restart, _ := supervisor.ParseRestart(svc.Restart)
		c := isle.ChildSpec{Name: svc.Name, Restart: restart, Shutdown: svc.Shutdown, Uses: svc.Uses}
		if svc.Supervisor != nil {
			sub, err := u.spec(ctx, svc.Name, svc.Supervisor)
			if err != nil {
				return spec, err
			}
			c.Supervisor = &sub
		} else {
			if err := u.program(ctx, &c, svc); err != nil {
				return spec, err
			}
		}
		spec.Children = append(spec.Children, c)
	}
	return spec, nil
}

// program fills c's module, grants and limits from a program service.
func (u *upper) program(ctx context.Context, c *isle.ChildSpec, svc manifest.Service) error {
	mod, err := u.load(ctx, svc.Program.Module)
	if err != nil {
		return err
	}
	g, spawners := programGrants(svc.Program, u.stdin, u.stdout, u.stderr)
	for grant, mods := range spawners {
		loaded := map[string]*isle.Module{}
		for name, p := range mods {
			if loaded[name], err = u.load(ctx, p); err != nil {
				return err
			}
		}
		g.Caps[grant] = isle.SpawnerCap(loaded)
	}
	if mod.Reactor() {
		g.Init = []byte(strings.Join(g.Args[1:], "\x00")) // as isle run gives a reactor its arguments
	}
	c.Module, c.Grants, c.Limits = mod, g, programLimits(svc.Program)
	return nil
}

// load builds and loads a module once, however many services run it.
func (u *upper) load(ctx context.Context, path string) (*isle.Module, error) {
	if m, ok := u.modules[path]; ok {
		return m, nil
	}
	w, err := buildModule(ctx, path, u.cacheDir, u.stderr)
	if err != nil {
		return nil, err
	}
	m, err := loadWasm(ctx, u.node, path, w, u.stderr)
	if err != nil {
		return nil, err
	}
	u.modules[path] = m
	return m, nil
}

// listen opens every service's HTTP listener, by service path.
func (u *upper) listen(s *manifest.Supervisor, prefix string) (map[string]net.Listener, error) {
	out := map[string]net.Listener{}
	for _, svc := range s.Services {
		if svc.Supervisor != nil {
			sub, err := u.listen(svc.Supervisor, prefix+svc.Name+"/")
			for k, v := range sub {
				out[k] = v
			}
			if err != nil {
				closeAll(out)
				return nil, err
			}
			continue
		}
		if svc.HTTP == "" {
			continue
		}
		ln, err := net.Listen("tcp", svc.HTTP)
		if err != nil {
			closeAll(out)
			return nil, usagef("%s: %s.http: %v", u.path, svc.Key, err)
		}
		out[prefix+svc.Name] = ln
	}
	return out, nil
}

func closeAll(ls map[string]net.Listener) {
	for _, ln := range ls {
		ln.Close()
	}
}

// serve serves each listener with its service, and returns how to stop.
func (u *upper) serve(sup *isle.Supervisor, listeners map[string]net.Listener) (stop func()) {
	var servers []*http.Server
	names := make([]string, 0, len(listeners))
	for name := range listeners {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		svc, _ := sup.Service(name)
		srv := &http.Server{
			Handler:           isle.ServiceHTTPHandler(svc),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          log.New(u.stderr, "isle: http: ", 0),
		}
		servers = append(servers, srv)
		ln := listeners[name]
		fmt.Fprintf(u.stderr, "isle: serving %s on http://%s\n", name, ln.Addr())
		go func() { _ = srv.Serve(ln) }()
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range servers {
			_ = srv.Shutdown(ctx)
		}
	}
}

// summary says how many services the app runs.
func (u *upper) summary(s *manifest.Supervisor) string {
	var count func(s *manifest.Supervisor) (services, sups int)
	count = func(s *manifest.Supervisor) (int, int) {
		n, m := 0, 1
		for _, svc := range s.Services {
			if svc.Supervisor != nil {
				a, b := count(svc.Supervisor)
				n, m = n+a, m+b
			} else {
				n++
			}
		}
		return n, m
	}
	n, m := count(s)
	plural := func(n int, what string) string {
		if n == 1 {
			return "1 " + what
		}
		return fmt.Sprintf("%d %ss", n, what)
	}
	return plural(n, "service") + " under " + plural(m, "supervisor")
}
