// Package control is a running node's control channel: a Unix socket that
// only the node's own user can reach, and the JSON-lines protocol that
// `isle ps`, `isle top`, `isle inspect`, `isle kill`, `isle restart` and
// `isle logs` speak over it.
//
// The socket is DIR/PID.sock, where DIR is $XDG_RUNTIME_DIR/isle, or
// $TMPDIR/isle-UID (/tmp/isle-UID) when XDG_RUNTIME_DIR is unset. DIR must
// be a directory of the user's own with mode 0700: the node makes it so,
// and refuses one that another user owns or that others may enter. The
// server also checks each connecting peer's uid (SO_PEERCRED) and refuses
// every uid but its own, so that a socket moved or exposed by mistake
// still serves nobody else.
package control

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// EnvNode is the environment variable that names a node's socket for the
// commands, as --node does.
const EnvNode = "ISLE_NODE"

// Errors finding a node.
var (
	// ErrNoNode: no node of the user's is running.
	ErrNoNode = errors.New("no isle node of yours is running")
	// ErrUnsafeDir: the socket directory is not the user's alone.
	ErrUnsafeDir = errors.New("unsafe control directory")
	// ErrRefused: the node refused the connection.
	ErrRefused = errors.New("refused")
)

// Dir is the directory the user's nodes put their sockets in.
func Dir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "isle")
	}
	return filepath.Join(os.TempDir(), "isle-"+strconv.Itoa(os.Getuid()))
}

// SocketPath is the socket of the node run by process pid.
func SocketPath(dir string, pid int) string {
	return filepath.Join(dir, strconv.Itoa(pid)+".sock")
}

// makeDir creates dir with mode 0700 unless it exists, then checks it.
func makeDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create control directory: %w", err)
	}
	return checkDir(dir)
}

// checkDir checks that dir is a real directory (not a symbolic link) that
// the user owns and that nobody else may read, write or enter.
func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory; remove it", ErrUnsafeDir, dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%w: %s belongs to uid %d, not to you (uid %d); remove it or set XDG_RUNTIME_DIR",
			ErrUnsafeDir, dir, st.Uid, os.Getuid())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o, which lets others in; chmod 700 it", ErrUnsafeDir, dir, perm)
	}
	return nil
}

// sockets lists the sockets in dir, by name.
func sockets(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sock") && e.Type()&fs.ModeSocket != 0 {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}
