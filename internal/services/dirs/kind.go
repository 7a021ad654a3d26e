package dirs

import (
	"os"
	"strings"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capfs"
	"github.com/isle-run/isle/internal/capkind"
)

// Kind is the directory capability's kind.
const Kind capkind.Kind = 4

func init() {
	capkind.Register(&capkind.Descriptor{
		Kind:    Kind,
		Name:    "dir",
		Summary: "a host directory, confined beneath it",
		Rights: capkind.RightSet{
			{Name: "read", Bit: isleapi.RightRead, Doc: "read files, list directories and read symlinks"},
			{Name: "write", Bit: isleapi.RightWrite, Doc: "write and truncate existing files, change modes and times"},
			{Name: "create", Bit: isleapi.RightCreate, Doc: "create files, directories and links; be renamed onto"},
			{Name: "delete", Bit: isleapi.RightDelete, Doc: "remove, and rename away"},
		},
		Fields: []capkind.Field{
			{Key: "path", Type: capkind.String, Required: true, Example: `path = "./data"`, Doc: "the host directory"},
			{Key: "mount", Type: capkind.String, Example: `mount = "/data"`, Doc: "also preopen it for WASI at this guest path"},
		},
		Parse: parse,
		Open:  open,
		Hint:  "grant --dir or --ro-dir, or a dir capability (a handle N is the path /.cap/N)",
	})
}

// Spec is a grant of a host directory.
type Spec struct {
	// Path is the host directory.
	Path string
	// Mount, if set, is where a manifest also preopens it for WASI.
	Mount string
}

func parse(t *capkind.Table) (any, error) {
	s := Spec{Path: t.Path("path"), Mount: t.String("mount")}
	if fi, err := os.Stat(s.Path); err != nil || !fi.IsDir() {
		return nil, capkind.Errorf("path", "%s is not an existing directory", s.Path)
	}
	if s.Mount != "" && !strings.HasPrefix(s.Mount, "/") {
		return nil, capkind.Errorf("mount", "%q must be an absolute guest path, such as /data", s.Mount)
	}
	return s, nil
}

// open opens the directory with the grant's rights; the process's end
// closes it.
func open(_ *capkind.Env, spec any, rights isleapi.Rights) (any, func(), error) {
	fs, err := capfs.Open(spec.(Spec).Path, rights)
	if err != nil {
		return nil, nil, err
	}
	return fs, capkind.Closer(fs), nil
}
