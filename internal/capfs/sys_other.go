//go:build !linux

package capfs

import (
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// osFlag translates wazero's open flags to the host's, portably.
// O_DIRECTORY and O_NOFOLLOW are enforced by OpenFile's own checks; the
// synchronous variants all become O_SYNC, the strongest.
func osFlag(flag experimentalsys.Oflag) int {
	o := accessFlag(flag)
	if flag&experimentalsys.O_APPEND != 0 {
		o |= os.O_APPEND
	}
	if flag&experimentalsys.O_CREAT != 0 {
		o |= os.O_CREATE
	}
	if flag&experimentalsys.O_EXCL != 0 {
		o |= os.O_EXCL
	}
	if flag&experimentalsys.O_TRUNC != 0 {
		o |= os.O_TRUNC
	}
	if flag&(experimentalsys.O_DSYNC|experimentalsys.O_RSYNC|experimentalsys.O_SYNC) != 0 {
		o |= os.O_SYNC
	}
	return o
}

// setAppend is unsupported without fcntl; re-opening by name is what this
// package avoids.
func setAppend(*os.File, bool) experimentalsys.Errno { return experimentalsys.ENOSYS }

// pwrite is os.File.WriteAt.
func pwrite(f *os.File, buf []byte, off int64) (int, experimentalsys.Errno) {
	n, err := f.WriteAt(buf, off)
	return n, toErrno(err)
}

// datasync falls back to a full sync.
func datasync(f *os.File) experimentalsys.Errno { return toErrno(f.Sync()) }

// futimens is unsupported here; wazero then falls back to FS.Utimens on
// the file's name, which is still resolved in the root.
func futimens(*os.File, int64, int64) experimentalsys.Errno { return experimentalsys.ENOSYS }

// lutimensat is unsupported here.
func lutimensat(*os.File, string, int64, int64) experimentalsys.Errno { return experimentalsys.ENOSYS }
