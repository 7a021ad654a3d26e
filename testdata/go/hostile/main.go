// Command hostile is a guest that tries to escape every capability it was
// given and to learn what it was not given. It prints one line per attempt,
// "NAME: ok ..." or "NAME: error ...", and the test checks each line.
//
// It expects /data (read-write) and /ro (read-only) mounts, a file
// /data/file, a file /ro/existing, and a secret file next to the /data
// tree on the host (../secret from the tree), with symlinks
// /data/link_abs -> <host path of secret> and /data/link_rel -> ../secret.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

func report(name string, err error, detail ...any) {
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			fmt.Printf("%s: error %s (%d)\n", name, errnoName(errno), uint32(errno))
		} else {
			fmt.Printf("%s: error %v\n", name, err)
		}
		return
	}
	fmt.Printf("%s: ok %s\n", name, strings.TrimSpace(fmt.Sprint(detail...)))
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.EPERM:
		return "EPERM"
	case syscall.EACCES:
		return "EACCES"
	case syscall.EROFS:
		return "EROFS"
	case syscall.ENOTCAPABLE:
		return "ENOTCAPABLE"
	case syscall.EBADF:
		return "EBADF"
	case syscall.ELOOP:
		return "ELOOP"
	case syscall.EXDEV:
		return "EXDEV"
	case syscall.ENOTDIR:
		return "ENOTDIR"
	case syscall.EEXIST:
		return "EEXIST"
	case syscall.EISDIR:
		return "EISDIR"
	}
	return e.Error()
}

func read(name, path string) {
	b, err := os.ReadFile(path)
	report(name, err, string(b))
}

func main() {
	// What was I given?
	fmt.Printf("env: ok %q\n", os.Environ())
	fmt.Printf("args: ok %q\n", os.Args)
	entries, err := os.ReadDir("/")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	report("list-root", err, strings.Join(names, ","))

	// Escapes by path.
	read("read-etc-passwd", "/etc/passwd")
	read("read-dotdot", "/data/../secret")
	read("read-dotdot-deep", "/data/sub/../../secret")
	read("read-dotdot-relative", "../secret")
	read("read-host-link-abs", "/data/link_abs")
	read("read-host-link-rel", "/data/link_rel")

	// Escapes by symlinks made during the run.
	report("symlink-abs-create", os.Symlink("/etc", "/data/evil"))
	read("symlink-abs-follow", "/data/evil/passwd")
	report("symlink-up-create", os.Symlink("..", "/data/up"))
	read("symlink-up-follow", "/data/up/secret")
	report("symlink-rel-create", os.Symlink("../secret", "/data/rel"))
	read("symlink-rel-follow", "/data/rel")

	// Escapes by rename and hard link.
	report("rename-out", os.Rename("/data/file", "/data/../stolen"))
	report("link-out", os.Link("/data/file", "/data/../linked"))
	report("link-in", os.Link("/data/../secret", "/data/secret-link"))
	report("write-out", os.WriteFile("/data/../planted", []byte("x"), 0o644))

	// Read-only means no change of any kind.
	read("ro-read", "/ro/existing")
	report("ro-create", os.WriteFile("/ro/new", []byte("x"), 0o644))
	f, err := os.OpenFile("/ro/existing", os.O_WRONLY, 0)
	report("ro-open-write", err)
	if f != nil {
		f.Close()
	}
	report("ro-truncate", os.Truncate("/ro/existing", 0))
	report("ro-rename", os.Rename("/ro/existing", "/ro/renamed"))
	report("ro-unlink", os.Remove("/ro/existing"))
	report("ro-mkdir", os.Mkdir("/ro/dir", 0o755))
	report("ro-chmod", os.Chmod("/ro/existing", 0o777))
	report("ro-utimes", os.Chtimes("/ro/existing", time.Unix(0, 0), time.Unix(0, 0)))
	report("ro-symlink", os.Symlink("existing", "/ro/link"))
	report("ro-link", os.Link("/ro/existing", "/ro/hard"))

	// Normal use of the read-write grant still works.
	report("rw-write", os.WriteFile("/data/made-by-guest", []byte("mine"), 0o644))
	read("rw-read-back", "/data/made-by-guest")
}
