package manifest

import (
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// App is a validated application manifest for `isle up`: a supervision
// tree of services.
type App struct {
	Path    string
	Name    string
	DataDir string
	Root    Supervisor
	// Admin, if set, is where `isle up` serves the dashboard and /metrics.
	Admin string
	// Placed reports that the app places its services on the nodes of a
	// cluster: every top-level Service has a Node.
	Placed bool
}

// Nodes returns the nodes a placed app's services may run on, sorted.
func (a *App) Nodes() []string {
	var out []string
	for _, s := range a.Root.Services {
		for _, n := range s.Nodes {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Supervisor is one supervisor of an application and its services.
type Supervisor struct {
	Strategy   string // one_for_one, one_for_all or rest_for_one
	Intensity  int
	Period     time.Duration
	BackoffMin time.Duration
	BackoffMax time.Duration
	Services   []Service
}

// Service is one child of a supervisor: a program, or a nested supervisor.
type Service struct {
	Name string
	// Key is where the service is in the file, such as "service.web", for
	// errors found later (a port in use).
	Key      string
	Program  Program
	Restart  string // permanent, transient or temporary
	Shutdown time.Duration
	// HTTP, if set, is the address whose requests the service serves.
	HTTP string
	// Uses names siblings whose services it is granted, by their names.
	Uses []string
	// Supervisor, if set, makes the service a nested supervisor.
	Supervisor *Supervisor
	// Node is the cluster node a top-level service runs on (its node, the
	// first of its nodes, or the app's default_node), "" in an app that
	// places nothing.
	Node string
	// Nodes are the nodes it may run on, in order of preference: one for
	// a service placed with node or default_node; the list of nodes = [...]
	// for one that fails over. Nil in an app that places nothing.
	Nodes []string
}

// FailsOver reports whether the service may run on more than one node.
func (s *Service) FailsOver() bool { return len(s.Nodes) > 1 }

type appFile struct {
	Name        string        `toml:"name"`
	DataDir     string        `toml:"data_dir"`
	Admin       string        `toml:"admin"`
	DefaultNode string        `toml:"default_node"`
	Supervisor  supFile       `toml:"supervisor"`
	Service     []serviceFile `toml:"service"`
}

type supFile struct {
	Strategy  string `toml:"strategy"`
	Intensity *int   `toml:"intensity"`
	Period    string `toml:"period"`
	Backoff   string `toml:"backoff"`
}

type serviceFile struct {
	programFile
	Name       string        `toml:"name"`
	Restart    string        `toml:"restart"`
	Shutdown   string        `toml:"shutdown"`
	HTTP       string        `toml:"http"`
	Node       string        `toml:"node"`
	Nodes      []string      `toml:"nodes"`
	Uses       []string      `toml:"uses"`
	Supervisor *supFile      `toml:"supervisor"`
	Service    []serviceFile `toml:"service"`
}

// IsApp reports whether the manifest at path describes an application
// (it has [[service]] entries) rather than one program.
func IsApp(path string) bool {
	var probe struct {
		Service []map[string]any `toml:"service"`
	}
	_ = decodeLoose(path, &probe)
	return len(probe.Service) > 0
}

// LoadApp reads and validates an application manifest.
func LoadApp(path string) (*App, error) {
	var f appFile
	if err := decode(path, &f); err != nil {
		return nil, err
	}
	bad := badIn(path)
	dir := filepath.Dir(path)
	a := &App{Path: path, Name: f.Name}
	if a.Name == "" {
		a.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if f.DataDir != "" {
		a.DataDir = resolve(dir, f.DataDir)
	}
	if len(f.Service) == 0 {
		return nil, bad("service", "an application needs at least one [[service]]")
	}
	if f.Admin != "" {
		if _, _, err := net.SplitHostPort(f.Admin); err != nil {
			return nil, bad("admin", "%q is not HOST:PORT; write it like \"127.0.0.1:9090\" or \":9090\"", f.Admin)
		}
		a.Admin = f.Admin
	}
	root, err := supervisorOf(dir, "supervisor", &f.Supervisor, "", f.Service, bad)
	if err != nil {
		return nil, err
	}
	a.Root = root
	if err := place(a, f.DefaultNode, bad); err != nil {
		return nil, err
	}
	if err := checkListeners(&a.Root, map[string]string{}, bad); err != nil {
		return nil, err
	}
	return a, nil
}

// supervisorOf validates a supervisor (its keys under supKey) and its
// services (under prefix "service." or "service.NAME.service.").
func supervisorOf(dir, supKey string, sf *supFile, prefix string, services []serviceFile, bad badFunc) (Supervisor, error) {
	s := Supervisor{Strategy: sf.Strategy}
	if s.Strategy == "" {
		s.Strategy = "one_for_one"
	}
	switch s.Strategy {
	case "one_for_one", "one_for_all", "rest_for_one":
	default:
		return s, bad(supKey+".strategy", "%q is not one_for_one, one_for_all or rest_for_one", sf.Strategy)
	}
	if sf.Intensity != nil {
		if *sf.Intensity < 0 {
			return s, bad(supKey+".intensity", "must not be negative")
		}
		s.Intensity = *sf.Intensity
		if s.Intensity == 0 {
			s.Intensity = -1 // written as 0: no restart at all
		}
	}
	var err error
	if s.Period, err = duration(sf.Period, supKey+".period", bad); err != nil {
		return s, err
	}
	if sf.Backoff != "" {
		lo, hi, ok := strings.Cut(sf.Backoff, "..")
		s.BackoffMin, err = time.ParseDuration(lo)
		if err == nil {
			s.BackoffMax, err = time.ParseDuration(hi)
		}
		if !ok || err != nil || s.BackoffMin <= 0 || s.BackoffMax < s.BackoffMin {
			return s, bad(supKey+".backoff", "%q is not MIN..MAX; write it like \"10ms..1s\"", sf.Backoff)
		}
	}
	names := map[string]bool{}
	for i := range services {
		svc, err := serviceOf(dir, prefix, &services[i], bad)
		if err != nil {
			return s, err
		}
		if names[svc.Name] {
			return s, bad(svc.Key, "the name %q is used by two services of one supervisor", svc.Name)
		}
		names[svc.Name] = true
		s.Services = append(s.Services, svc)
	}
	return s, checkUses(s.Services, bad)
}

// serviceOf validates one [[service]] entry.
func serviceOf(dir, prefix string, f *serviceFile, bad badFunc) (Service, error) {
	key := prefix + "service"
	if f.Name == "" {
		return Service{}, bad(key+".name", "missing: every service needs a name")
	}
	if strings.ContainsAny(f.Name, "/. ") {
		return Service{}, bad(key+".name", "%q: a service name has no '/', '.' or space", f.Name)
	}
	key += "." + f.Name
	s := Service{Name: f.Name, Key: key, HTTP: f.HTTP, Uses: f.Uses, Restart: f.Restart, Node: f.Node}
	if f.Node != "" && prefix != "" {
		return s, bad(key+".node", "only a top-level [[service]] is placed on a node; a nested one runs where its supervisor does")
	}
	if err := nodesOf(&s, f, prefix, bad); err != nil {
		return s, err
	}
	if s.Restart == "" {
		s.Restart = "permanent"
	}
	switch s.Restart {
	case "permanent", "transient", "temporary":
	default:
		return s, bad(key+".restart", "%q is not permanent, transient or temporary", f.Restart)
	}
	var err error
	if s.Shutdown, err = duration(f.Shutdown, key+".shutdown", bad); err != nil {
		return s, err
	}
	if f.Supervisor != nil || len(f.Service) > 0 {
		if f.Module != "" || f.HTTP != "" {
			return s, bad(key, "a service is a program (module) or a supervisor ([service.supervisor] and its [[service.service]]), not both")
		}
		if len(f.Service) == 0 {
			return s, bad(key+".service", "a nested supervisor needs at least one [[service.service]]")
		}
		sf := f.Supervisor
		if sf == nil {
			sf = &supFile{}
		}
		sub, err := supervisorOf(dir, key+".supervisor", sf, key+".", f.Service, bad)
		if err != nil {
			return s, err
		}
		s.Supervisor = &sub
		return s, nil
	}
	if s.Program, err = f.program(dir, key+".", bad); err != nil {
		return s, err
	}
	return s, nil
}

// nodeName is what a cluster node may be called.
var nodeName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// nodesOf validates a service's nodes list: a top-level program's, not
// with node, each a node name once.
func nodesOf(s *Service, f *serviceFile, prefix string, bad badFunc) error {
	if f.Nodes == nil {
		if f.Node != "" {
			s.Nodes = []string{f.Node}
		}
		return nil
	}
	key := s.Key + ".nodes"
	switch {
	case prefix != "":
		return bad(key, "only a top-level [[service]] is placed on nodes; a nested one runs where its supervisor does")
	case f.Node != "":
		return bad(key, "give node or nodes, not both: nodes = [\"b\", \"c\"] runs it on the first of them that is up")
	case len(f.Nodes) == 0:
		return bad(key, "lists no node; write it like nodes = [\"b\", \"c\"]")
	}
	for i, n := range f.Nodes {
		if !nodeName.MatchString(n) {
			return bad(key, "%q: a node name is 1 to 64 of A-Z a-z 0-9 _ -", n)
		}
		if slices.Contains(f.Nodes[:i], n) {
			return bad(key, "%q is listed twice", n)
		}
	}
	if len(f.Nodes) > 1 {
		if f.Supervisor != nil || len(f.Service) > 0 {
			return bad(key, "only a program service fails over between nodes; give a supervisor one node")
		}
		if f.HTTP != "" {
			return bad(key, "a service that fails over does not serve http; serve it from a service on one node that uses this one")
		}
	}
	s.Node, s.Nodes = f.Nodes[0], slices.Clone(f.Nodes)
	return nil
}

// place gives every top-level service its node, if any is placed: its
// own node, else the default. An app that places some services and has
// no default is refused rather than guessing where the rest run.
func place(a *App, def string, bad badFunc) error {
	if def != "" && !nodeName.MatchString(def) {
		return bad("default_node", "%q: a node name is 1 to 64 of A-Z a-z 0-9 _ -", def)
	}
	placed := def != ""
	for _, s := range a.Root.Services {
		if s.Node != "" {
			if !nodeName.MatchString(s.Node) {
				return bad(s.Key+".node", "%q: a node name is 1 to 64 of A-Z a-z 0-9 _ -", s.Node)
			}
			placed = true
		}
	}
	if !placed {
		return nil
	}
	for i := range a.Root.Services {
		s := &a.Root.Services[i]
		if s.Node == "" {
			if def == "" {
				return bad(s.Key+".node", "missing: other services are placed on nodes, so every one needs a node (or set a top-level default_node)")
			}
			s.Node, s.Nodes = def, []string{def}
		}
	}
	a.Placed = true
	return nil
}

// checkUses refuses uses of unknown siblings and cycles of uses.
func checkUses(services []Service, bad badFunc) error {
	byName := map[string]*Service{}
	for i := range services {
		byName[services[i].Name] = &services[i]
	}
	for _, s := range services {
		for _, u := range s.Uses {
			if byName[u] == nil {
				return bad(s.Key+".uses", "no sibling service is called %q", u)
			}
			if u == s.Name {
				return bad(s.Key+".uses", "a service cannot use itself")
			}
		}
	}
	// Depth-first search for a cycle; state 1 is on the path, 2 is done.
	state := map[string]int{}
	var path []string
	var visit func(name string) error
	visit = func(name string) error {
		state[name] = 1
		path = append(path, name)
		for _, u := range byName[name].Uses {
			switch state[u] {
			case 1:
				i := len(path) - 1
				for path[i] != u {
					i--
				}
				return bad(byName[u].Key+".uses", "a cycle: %s -> %s", strings.Join(path[i:], " -> "), u)
			case 0:
				if err := visit(u); err != nil {
					return err
				}
			}
		}
		path = path[:len(path)-1]
		state[name] = 2
		return nil
	}
	for _, s := range services {
		if state[s.Name] == 0 {
			if err := visit(s.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkListeners refuses an http address that is not host:port, or that
// two services share.
func checkListeners(s *Supervisor, seen map[string]string, bad badFunc) error {
	for _, svc := range s.Services {
		if svc.Supervisor != nil {
			if err := checkListeners(svc.Supervisor, seen, bad); err != nil {
				return err
			}
			continue
		}
		if svc.HTTP == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(svc.HTTP); err != nil {
			return bad(svc.Key+".http", "%q is not host:port; write it like \"127.0.0.1:8080\"", svc.HTTP)
		}
		if other, dup := seen[svc.HTTP]; dup {
			return bad(svc.Key+".http", "%s is also %s's address", svc.HTTP, other)
		}
		seen[svc.HTTP] = svc.Key
	}
	return nil
}

func duration(s, key string, bad badFunc) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, bad(key, "%q is not a positive duration; write it like 500ms, 10s or 2m", s)
	}
	return d, nil
}
