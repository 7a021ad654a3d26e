package manifest

import (
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/isle-run/isle/api"
)

// Kinds are the capability kinds a manifest can grant.
var Kinds = []string{"dir", "kv", "clock", "random", "log", "http", "spawner"}

// rightNames are each kind's rights, by the names manifests use. A kind
// with a single right needs no "rights" key.
var rightNames = map[string]map[string]api.Rights{
	"dir":   {"read": api.RightRead, "write": api.RightWrite, "create": api.RightCreate, "delete": api.RightDelete},
	"kv":    {"get": api.RightGet, "put": api.RightPut, "remove": api.RightRemove, "list": api.RightList},
	"clock": {"monotonic": api.RightMonotonic, "wall": api.RightWall},
}

func parseCap(dir, prefix, name string, c capFile, bad badFunc) (Cap, error) {
	key := prefix + "caps." + name
	cp := Cap{Name: name, Kind: c.Kind}
	if !contains(Kinds, c.Kind) {
		if c.Kind == "" {
			return Cap{}, bad(key, "missing kind: one of %s", strings.Join(Kinds, ", "))
		}
		return Cap{}, bad(key+".kind", "unknown kind %q: one of %s", c.Kind, strings.Join(Kinds, ", "))
	}
	rights, err := parseRights(c.Kind, c.Rights)
	if err != nil {
		return Cap{}, bad(key+".rights", "%v", err)
	}
	cp.Rights = rights
	need := func(field string, ok bool, hint string) error {
		if !ok {
			return bad(key, "a %s capability needs %s (%s)", c.Kind, field, hint)
		}
		return nil
	}
	unused := func(field string, set bool) error {
		if set {
			return bad(key+"."+field, "does not apply to a %s capability", c.Kind)
		}
		return nil
	}
	for _, u := range []struct {
		field string
		set   bool
		kinds []string
	}{
		{"path", c.Path != "", []string{"dir"}},
		{"mount", c.Mount != "", []string{"dir"}},
		{"bucket", c.Bucket != "", []string{"kv"}},
		{"allow", c.Allow != nil, []string{"http"}},
		{"modules", c.Modules != nil, []string{"spawner"}},
	} {
		if !contains(u.kinds, c.Kind) {
			if err := unused(u.field, u.set); err != nil {
				return Cap{}, err
			}
		}
	}
	switch c.Kind {
	case "dir":
		if err := need("path", c.Path != "", `path = "./data"`); err != nil {
			return Cap{}, err
		}
		cp.Path = resolve(dir, c.Path)
		if fi, err := os.Stat(cp.Path); err != nil || !fi.IsDir() {
			return Cap{}, bad(key+".path", "%s is not an existing directory", cp.Path)
		}
		if c.Mount != "" && !strings.HasPrefix(c.Mount, "/") {
			return Cap{}, bad(key+".mount", "%q must be an absolute guest path, such as /data", c.Mount)
		}
		cp.Mount = c.Mount
	case "kv":
		if err := need("bucket", c.Bucket != "", `bucket = "app"`); err != nil {
			return Cap{}, err
		}
		cp.Bucket = c.Bucket
	case "http":
		if err := need("allow", len(c.Allow) > 0, `allow = ["https://api.example.com"]`); err != nil {
			return Cap{}, err
		}
		for _, o := range c.Allow {
			if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
				return Cap{}, bad(key+".allow", "%q is not an origin; write scheme://host[:port], such as https://api.example.com", o)
			}
		}
		cp.Allow = c.Allow
	case "spawner":
		if err := need("modules", len(c.Modules) > 0, `modules = { worker = "worker.wasm" }`); err != nil {
			return Cap{}, err
		}
		cp.Modules = map[string]string{}
		for n, p := range c.Modules {
			cp.Modules[n] = resolve(dir, p)
			if _, err := os.Stat(cp.Modules[n]); err != nil {
				return Cap{}, bad(key+".modules."+n, "%s does not exist", cp.Modules[n])
			}
		}
	}
	return cp, nil
}

// parseRights turns right names into a mask. Kinds with a single right
// take none; the others must list theirs.
func parseRights(kind string, names []string) (api.Rights, error) {
	table, ok := rightNames[kind]
	if !ok {
		if len(names) > 0 && !(len(names) == 1 && names[0] == "use") {
			return 0, fmt.Errorf("a %s capability has a single right; leave rights out", kind)
		}
		return api.RightUse, nil
	}
	valid := make([]string, 0, len(table))
	for n := range table {
		valid = append(valid, n)
	}
	sort.Strings(valid)
	if len(names) == 0 {
		return 0, fmt.Errorf("list the rights to grant, from %s", strings.Join(valid, ", "))
	}
	var r api.Rights
	for _, n := range names {
		bit, ok := table[n]
		if !ok {
			return 0, fmt.Errorf("unknown right %q for a %s capability; the rights are %s", n, kind, strings.Join(valid, ", "))
		}
		r |= bit
	}
	return r, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
