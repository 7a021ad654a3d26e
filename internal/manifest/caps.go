package manifest

import (
	"errors"
	"fmt"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"

	// Every kind a manifest can name, registered with capkind.
	_ "github.com/isle-run/isle/internal/services"
)

// Cap is one named capability. What its keys mean, and how they are
// checked, is its kind's: see internal/capkind.
type Cap struct {
	Name   string
	Kind   capkind.Kind
	Rights api.Rights
	// Spec is what the kind's Parse made of the table (a bucket's name, a
	// directory's path...), for its Open.
	Spec any
}

// parseCap checks one [caps.NAME] table, whose keys start with prefix,
// against its kind's descriptor.
func parseCap(dir, prefix, name string, values map[string]any, bad badFunc) (Cap, error) {
	key := prefix + "caps." + name
	v, ok := values["kind"]
	if !ok {
		return Cap{}, bad(key, "missing kind: one of %s", capkind.GrantedNames())
	}
	kind, _ := v.(string)
	d := capkind.ByName(kind)
	if d == nil || !d.Granted() {
		return Cap{}, bad(key+".kind", "unknown kind %s: one of %s", quote(v), capkind.GrantedNames())
	}
	rights, spec, err := d.ParseTable(dir, values)
	if err != nil {
		var fe *capkind.FieldError
		if !errors.As(err, &fe) {
			return Cap{}, bad(key, "%v", err)
		}
		if fe.Key != "" {
			key += "." + fe.Key
		}
		return Cap{}, bad(key, "%s", fe.Msg)
	}
	return Cap{Name: name, Kind: d.Kind, Rights: rights, Spec: spec}, nil
}

// quote shows a TOML value as it was written, near enough for an error.
func quote(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}
