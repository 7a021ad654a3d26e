// Package manifest reads isle.toml: a program's module, the capabilities it
// is granted with their rights, and its limits. `isle run app.toml` grants
// exactly what the manifest says and nothing else.
//
// The format is TOML (github.com/BurntSushi/toml: the standard library has
// no TOML, and this package is small, strict and widely used). Every key
// is checked: an unknown key, kind or right, a missing field or a bad size
// is an error that names the file, the key and what to write instead.
package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/isle-run/isle/internal/capkind"
)

// Manifest is a validated isle.toml, with paths made absolute.
type Manifest struct {
	// Path is the manifest file itself.
	Path string
	Program
	// Listen, if set, is where the node serves HTTP to this process.
	Listen string
	// DataDir holds durable state, such as key-value buckets.
	DataDir string
}

// Program is what runs and what it is granted: the part of a manifest
// that an application's services have too.
type Program struct {
	// Module is the .wasm file or Go package directory to run.
	Module string
	Args   []string
	// Env is NAME=VALUE entries, sorted by name.
	Env []string
	// Stdio grants stdin, stdout and stderr.
	Stdio bool
	// WASIClock and WASIRandom grant WASI's clock and random_get.
	WASIClock, WASIRandom bool
	// NoImage (image = false) makes a reactor run its own _initialize
	// rather than start from an image (isle.Limits.NoImage).
	NoImage bool
	Limits  Limits
	// Caps are the named capabilities, sorted by name.
	Caps []Cap
}

// Limits bound the process.
type Limits struct {
	Memory  uint64
	Fuel    int64
	Mailbox int
	Timeout time.Duration
	// Processes and Files bound the process's tree: its live processes and
	// the host descriptors it holds (isle.Limits). Zero is the node's
	// default.
	Processes, Files int
}

// file is the TOML form.
type file struct {
	programFile
	DataDir string `toml:"data_dir"`
	HTTP    struct {
		Listen string `toml:"listen"`
	} `toml:"http"`
}

// programFile is the TOML form of a Program.
type programFile struct {
	Module string            `toml:"module"`
	Args   []string          `toml:"args"`
	Env    map[string]string `toml:"env"`
	Stdio  bool              `toml:"stdio"`
	Image  *bool             `toml:"image"`
	WASI   struct {
		Clock  bool `toml:"clock"`
		Random bool `toml:"random"`
	} `toml:"wasi"`
	Limits struct {
		Memory    string `toml:"memory"`
		Fuel      int64  `toml:"fuel"`
		Mailbox   int    `toml:"mailbox"`
		Timeout   string `toml:"timeout"`
		Processes int    `toml:"processes"`
		Files     int    `toml:"files"`
	} `toml:"limits"`
	// Caps are decoded loosely, as TOML gives them: each kind checks its
	// own keys (capkind.Descriptor.ParseTable).
	Caps map[string]map[string]any `toml:"caps"`
}

// Load reads and validates a manifest.
func Load(path string) (*Manifest, error) {
	var f file
	if err := decode(path, &f); err != nil {
		return nil, err
	}
	return validate(path, &f)
}

// decode reads a TOML file strictly: every key must be known.
func decode(path string, into any) error {
	md, err := toml.DecodeFile(path, into)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return fmt.Errorf("%s:%d: %s", path, perr.Position.Line, perr.Message)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, k := range md.Undecoded() {
		if !insideCapField(k) {
			return fmt.Errorf("%s: unknown key %q (see docs/MANIFEST.md for the keys)", path, k.String())
		}
	}
	return nil
}

// insideCapField reports whether k is inside the value of a capability's
// key, such as caps.NAME.modules.worker: the decoder leaves those to the
// kind, which checks them.
func insideCapField(k toml.Key) bool {
	for i, part := range k {
		if part == "caps" {
			return len(k) > i+3
		}
	}
	return false
}

// decodeLoose reads a TOML file, ignoring keys into does not have.
func decodeLoose(path string, into any) error {
	_, err := toml.DecodeFile(path, into)
	return err
}

// badFunc makes errors that name the file and the key.
type badFunc func(key, format string, args ...any) error

func badIn(path string) badFunc {
	return func(key, format string, args ...any) error {
		return fmt.Errorf("%s: %s: %s", path, key, fmt.Sprintf(format, args...))
	}
}

func validate(path string, f *file) (*Manifest, error) {
	dir := filepath.Dir(path)
	m := &Manifest{Path: path, Listen: f.HTTP.Listen}
	prog, err := f.programFile.program(dir, "", badIn(path))
	if err != nil {
		return nil, err
	}
	m.Program = prog
	if f.DataDir != "" {
		m.DataDir = resolve(dir, f.DataDir)
	}
	return m, nil
}

// program validates a program whose keys start with prefix ("" at the top
// of a manifest, "service.NAME." in an application).
func (f *programFile) program(dir, prefix string, bad badFunc) (Program, error) {
	m := Program{Args: f.Args, Stdio: f.Stdio, WASIClock: f.WASI.Clock, WASIRandom: f.WASI.Random,
		NoImage: f.Image != nil && !*f.Image}
	if f.Module == "" {
		return m, bad(prefix+"module", "missing: name the .wasm file or Go package directory to run")
	}
	m.Module = resolve(dir, f.Module)
	if _, err := os.Stat(m.Module); err != nil {
		return m, bad(prefix+"module", "%s does not exist", m.Module)
	}
	for name, v := range f.Env {
		if name == "" || strings.Contains(name, "=") {
			return m, bad(prefix+"env", "%q is not a variable name", name)
		}
		m.Env = append(m.Env, name+"="+v)
	}
	sort.Strings(m.Env)
	if err := m.parseLimits(f, prefix, bad); err != nil {
		return m, err
	}
	for name, c := range f.Caps {
		cp, err := parseCap(dir, prefix, name, c, bad)
		if err != nil {
			return m, err
		}
		m.Caps = append(m.Caps, cp)
	}
	sort.Slice(m.Caps, func(i, j int) bool { return m.Caps[i].Name < m.Caps[j].Name })
	return m, nil
}

func (m *Program) parseLimits(f *programFile, prefix string, bad badFunc) error {
	if s := f.Limits.Memory; s != "" {
		n, err := ParseSize(s)
		if err != nil {
			return bad(prefix+"limits.memory", "%v", err)
		}
		m.Limits.Memory = n
	}
	if f.Limits.Fuel < 0 {
		return bad(prefix+"limits.fuel", "must not be negative")
	}
	m.Limits.Fuel = f.Limits.Fuel
	if f.Limits.Mailbox < 0 {
		return bad(prefix+"limits.mailbox", "must not be negative")
	}
	m.Limits.Mailbox = f.Limits.Mailbox
	if f.Limits.Processes < 0 {
		return bad(prefix+"limits.processes", "must not be negative")
	}
	m.Limits.Processes = f.Limits.Processes
	if f.Limits.Files < 0 {
		return bad(prefix+"limits.files", "must not be negative")
	}
	m.Limits.Files = f.Limits.Files
	if s := f.Limits.Timeout; s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return bad(prefix+"limits.timeout", "%q is not a positive duration; write it like 500ms, 10s or 2m", s)
		}
		m.Limits.Timeout = d
	}
	return nil
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// ParseSize parses sizes such as 64MiB, 512KiB, 1GiB, 10MB or 65536, up
// to 4GiB, the most a memory limit can be.
func ParseSize(v string) (uint64, error) { return capkind.ParseSize(v, 1<<32, "4GiB") }
