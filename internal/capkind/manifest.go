package capkind

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/isle-run/isle/api"
)

// FieldType is the TOML type of a manifest key.
type FieldType uint8

// The types a kind's manifest keys can have.
const (
	String    FieldType = iota + 1 // a string
	Strings                        // an array of strings
	StringMap                      // a table of strings
)

var typeNames = map[FieldType]string{String: "a string", Strings: "a list of strings", StringMap: "a table of strings"}

// Field is one key of a manifest's [caps.NAME] table.
type Field struct {
	Key      string
	Type     FieldType
	Required bool
	// Example shows how to write it, for errors: `bucket = "app"`.
	Example string
	// Doc says what it means, for docs/MANIFEST.md.
	Doc string
}

// FieldError is a mistake in a [caps.NAME] table. Key is the key at
// fault, relative to the table ("bucket", "modules.worker"), or "" when
// the table as a whole is at fault. The manifest reader prefixes the file
// and the table's own key.
type FieldError struct {
	Key string
	Msg string
}

// Error implements error.
func (e *FieldError) Error() string {
	if e.Key == "" {
		return e.Msg
	}
	return e.Key + ": " + e.Msg
}

// Errorf makes a FieldError about key.
func Errorf(key, format string, args ...any) error {
	return &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Table is one [caps.NAME] table of a manifest, whose keys ParseTable has
// checked against the kind's Fields: a kind's Parse reads each key with
// the getter of its declared type.
type Table struct {
	// Dir is the manifest's directory, against which Path resolves.
	Dir    string
	values map[string]any
}

// String returns a String key, or "".
func (t *Table) String(key string) string {
	s, _ := t.values[key].(string)
	return s
}

// Path returns a String key as a host path (see Resolve); "" if the key
// is absent.
func (t *Table) Path(key string) string { return t.Resolve(t.String(key)) }

// Resolve makes a path written in the manifest a host path: relative to
// the manifest's directory unless it is absolute.
func (t *Table) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(t.Dir, p)
}

// Strings returns a Strings key, or nil.
func (t *Table) Strings(key string) []string {
	out, _ := asStrings(t.values[key])
	return out
}

// StringMap returns a StringMap key, or nil.
func (t *Table) StringMap(key string) map[string]string {
	out, _ := asStringMap(t.values[key])
	return out
}

// ParseTable checks a manifest's [caps.NAME] table, given as TOML decodes
// it, against the kind: the rights first, then that every key is one of
// the kind's and of its type, then that the required ones are there, and
// last the kind's own Parse. It returns the rights and the spec for Open.
// Every error is a *FieldError.
func (d *Descriptor) ParseTable(dir string, values map[string]any) (api.Rights, any, error) {
	if !d.Granted() {
		return 0, nil, Errorf("kind", "a %s capability cannot be granted by a manifest", d.Name)
	}
	rights, err := d.parseRights(values["rights"])
	if err != nil {
		return 0, nil, err
	}
	fields := map[string]*Field{}
	for i := range d.Fields {
		fields[d.Fields[i].Key] = &d.Fields[i]
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "kind" || k == "rights" {
			continue
		}
		f := fields[k]
		if f == nil {
			return 0, nil, Errorf(k, "does not apply to a %s capability (its keys are %s)", d.Name, d.keyList())
		}
		if !f.Type.fits(values[k]) {
			return 0, nil, Errorf(k, "must be %s, such as %s", typeNames[f.Type], f.Example)
		}
	}
	for _, f := range d.Fields {
		if f.Required && empty(values[f.Key]) {
			return 0, nil, Errorf("", "a %s capability needs %s (%s)", d.Name, f.Key, f.Example)
		}
	}
	spec, err := d.Parse(&Table{Dir: dir, values: values})
	if err != nil {
		return 0, nil, err
	}
	return rights, spec, nil
}

// keyList names the keys a table of the kind takes.
func (d *Descriptor) keyList() string {
	keys := []string{"kind", "rights"}
	for _, f := range d.Fields {
		keys = append(keys, f.Key)
	}
	return strings.Join(keys, ", ")
}

// parseRights turns right names into a mask. A kind with the single right
// "use" takes none (or just that one); the others must list theirs.
func (d *Descriptor) parseRights(v any) (api.Rights, error) {
	names, ok := asStrings(v)
	if !ok {
		return 0, Errorf("rights", "must be a list of rights, such as rights = [%q]", d.Rights[0].Name)
	}
	if len(d.Rights) == 1 && d.Rights[0].Name == Use[0].Name {
		if len(names) > 0 && !(len(names) == 1 && names[0] == Use[0].Name) {
			return 0, Errorf("rights", "a %s capability has a single right; leave rights out", d.Name)
		}
		return d.Rights.All(), nil
	}
	valid := make([]string, len(d.Rights))
	for i, r := range d.Rights {
		valid[i] = r.Name
	}
	sort.Strings(valid)
	if len(names) == 0 {
		return 0, Errorf("rights", "list the rights to grant, from %s", strings.Join(valid, ", "))
	}
	var mask api.Rights
	for _, n := range names {
		bit, ok := d.Rights.bit(n)
		if !ok {
			return 0, Errorf("rights", "unknown right %q for a %s capability; the rights are %s", n, d.Name, strings.Join(valid, ", "))
		}
		mask |= bit
	}
	return mask, nil
}

// bit returns the bit of the right called name.
func (s RightSet) bit(name string) (api.Rights, bool) {
	for _, r := range s {
		if r.Name == name {
			return r.Bit, true
		}
	}
	return 0, false
}

// fits reports whether a decoded TOML value has type t.
func (t FieldType) fits(v any) bool {
	var ok bool
	switch t {
	case String:
		_, ok = v.(string)
	case Strings:
		_, ok = asStrings(v)
	case StringMap:
		_, ok = asStringMap(v)
	}
	return ok
}

// empty reports whether a value is absent or holds nothing.
func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case []string:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// asStrings reads a TOML array of strings; nil (absent) is an empty list.
func asStrings(v any) ([]string, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case []string:
		return v, true
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

// asStringMap reads a TOML table of strings; nil (absent) is empty.
func asStringMap(v any) (map[string]string, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case map[string]any:
		out := make(map[string]string, len(v))
		for k, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out[k] = s
		}
		return out, true
	}
	return nil, false
}
