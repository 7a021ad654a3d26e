package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/manifest"
)

// dirFlag collects repeated --dir / --ro-dir values of the form
// HOST[::GUEST].
type dirFlag struct {
	readOnly bool
	dirs     *[]dirGrant
}

type dirGrant struct {
	host, guest string
	readOnly    bool
}

func (f dirFlag) String() string { return "" }

func (f dirFlag) Set(v string) error {
	host, guest, found := strings.Cut(v, "::")
	if host == "" {
		return fmt.Errorf("empty host directory in %q", v)
	}
	if !found {
		guest = host
	}
	if !strings.HasPrefix(guest, "/") {
		guest = "/" + guest
	}
	info, err := os.Stat(host)
	if err != nil {
		return fmt.Errorf("directory %s does not exist%s", host, separatorHint(v, found))
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", host)
	}
	*f.dirs = append(*f.dirs, dirGrant{host: host, guest: guest, readOnly: f.readOnly})
	return nil
}

// envFlag collects repeated --env NAME=VALUE values.
type envFlag []string

func (f *envFlag) String() string { return strings.Join(*f, ",") }

func (f *envFlag) Set(v string) error {
	name, _, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("%q is not NAME=VALUE", v)
	}
	*f = append(*f, v)
	return nil
}

// sizeFlag parses sizes such as 64MiB, 512KiB, 1GiB, 10MB or 65536.
type sizeFlag uint64

func (f *sizeFlag) String() string { return strconv.FormatUint(uint64(*f), 10) }

func (f *sizeFlag) Set(v string) error {
	n, err := manifest.ParseSize(v)
	if err != nil {
		return err
	}
	*f = sizeFlag(n)
	return nil
}

// kvMaxFlag is the bound on the node's key-value store: a size up to
// 1PiB, or "none". Zero, unset, is isle.Config's default.
type kvMaxFlag int64

func (f *kvMaxFlag) String() string {
	switch {
	case *f < 0:
		return "none"
	case *f == 0:
		return ""
	}
	return strconv.FormatInt(int64(*f), 10)
}

func (f *kvMaxFlag) Set(v string) error {
	if v == "none" {
		*f = -1
		return nil
	}
	n, err := capkind.ParseSize(v, 1<<50, "1PiB")
	if err != nil {
		return fmt.Errorf("%w, or none for no bound", err)
	}
	*f = kvMaxFlag(n)
	return nil
}

// kvMaxUsage is the help text of --kv-max.
const kvMaxUsage = "bound what the node's key-value store holds, every bucket together (each key counting its bytes, its value's and 64), at `SIZE` such as 512MiB, or none (default 2GiB)"

// durationFlag is a positive time.Duration.
type durationFlag time.Duration

func (f *durationFlag) String() string { return time.Duration(*f).String() }

func (f *durationFlag) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive duration; write it like 500ms, 10s or 2m", v)
	}
	*f = durationFlag(d)
	return nil
}

// spawnFlag collects repeated --spawn NAME=PATH values.
type spawnFlag []spawnModule

type spawnModule struct{ name, path string }

func (f *spawnFlag) String() string { return "" }

func (f *spawnFlag) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("%q is not NAME=PATH", v)
	}
	*f = append(*f, spawnModule{name: name, path: path})
	return nil
}

// separatorHint is what to say when HOST does not exist but v looks like
// HOST:GUEST, the separator of docker and others, where isle takes ::.
func separatorHint(v string, found bool) string {
	host, guest, one := strings.Cut(v, ":")
	if found || !one || host == "" || guest == "" {
		return ""
	}
	return fmt.Sprintf("; HOST and GUEST are separated by ::, as in %s::%s", host, guest)
}
