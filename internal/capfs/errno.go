package capfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/isle-run/isle/internal/wasip1"
)

// escapeMessage is the text of os.Root's unexported "path escapes" error.
// It is only a fallback: learnEscape captures the error value itself.
const escapeMessage = "path escapes from parent"

var (
	escapeOnce sync.Once
	// escapeErr is the sentinel os.Root returns when a path would leave the
	// root. os does not export it, so we capture it by asking a root for
	// "..", which must always escape.
	escapeErr error
)

// learnEscape records os.Root's escape sentinel from a live root.
func learnEscape(r *os.Root) {
	escapeOnce.Do(func() {
		_, err := r.Lstat("..")
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == escapeMessage {
			escapeErr = pe.Err
		}
	})
}

// isEscape reports whether err is os.Root refusing to leave the root.
func isEscape(err error) bool {
	if escapeErr != nil && errors.Is(err, escapeErr) {
		return true
	}
	// Fall back to the message in case a future Go wraps the sentinel
	// differently; the innermost error is what os.Root produced.
	for e := err; e != nil; e = errors.Unwrap(e) {
		if errors.Unwrap(e) == nil {
			return e.Error() == escapeMessage
		}
	}
	return false
}

// toErrno maps an error from os or os.Root to the errno the guest sees.
//
// An escape becomes EPERM: WASI's ERRNO_NOTCAPABLE would be the natural
// answer, but wazero's experimental/sys.Errno has no ENOTCAPABLE, and
// wasi-libc rewrites ENOTCAPABLE into other errnos anyway. EPERM is also
// what wazero itself returns when it rejects a ".." or absolute path before
// it ever reaches the FS, so guests see one errno for every escape.
func toErrno(err error) experimentalsys.Errno {
	if err == nil || errors.Is(err, io.EOF) {
		return 0
	}
	if isEscape(err) {
		return experimentalsys.EPERM
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fromSyscall(errno)
	}
	switch {
	case errors.Is(err, fs.ErrClosed):
		return experimentalsys.EBADF
	case errors.Is(err, fs.ErrNotExist):
		return experimentalsys.ENOENT
	case errors.Is(err, fs.ErrExist):
		return experimentalsys.EEXIST
	case errors.Is(err, fs.ErrPermission):
		return experimentalsys.EACCES
	case errors.Is(err, fs.ErrInvalid):
		return experimentalsys.EINVAL
	}
	return experimentalsys.EIO
}

// fromSyscall maps a host errno onto the subset wazero can express.
func fromSyscall(e syscall.Errno) experimentalsys.Errno {
	switch e {
	case 0:
		return 0
	case syscall.EACCES:
		return experimentalsys.EACCES
	case syscall.EAGAIN:
		return experimentalsys.EAGAIN
	case syscall.EBADF:
		return experimentalsys.EBADF
	case syscall.EEXIST:
		return experimentalsys.EEXIST
	case syscall.EFAULT:
		return experimentalsys.EFAULT
	case syscall.EINTR:
		return experimentalsys.EINTR
	case syscall.EINVAL:
		return experimentalsys.EINVAL
	case syscall.EISDIR:
		return experimentalsys.EISDIR
	case syscall.ELOOP:
		return experimentalsys.ELOOP
	case syscall.ENAMETOOLONG:
		return experimentalsys.ENAMETOOLONG
	case syscall.ENOENT:
		return experimentalsys.ENOENT
	case syscall.ENOSYS:
		return experimentalsys.ENOSYS
	case syscall.ENOTDIR:
		return experimentalsys.ENOTDIR
	case syscall.ERANGE:
		return experimentalsys.ERANGE
	case syscall.ENOTEMPTY:
		return experimentalsys.ENOTEMPTY
	case syscall.ENOTSOCK:
		return experimentalsys.ENOTSOCK
	case syscall.ENOTSUP:
		return experimentalsys.ENOTSUP
	case syscall.EPERM:
		return experimentalsys.EPERM
	case syscall.EROFS:
		return experimentalsys.EROFS
	case syscall.EXDEV:
		// No EXDEV in wazero's set. ENOTSUP tells a mover to fall back to
		// copying, which is what EXDEV would have meant.
		return experimentalsys.ENOTSUP
	case syscall.ETXTBSY:
		return experimentalsys.EACCES
	}
	// EOPNOTSUPP equals ENOTSUP on Linux but not everywhere.
	if e == syscall.EOPNOTSUPP {
		return experimentalsys.ENOTSUP
	}
	switch e {
	case syscall.EMFILE, syscall.ENFILE:
		return wasip1.ENFILE
	case syscall.ENOSPC:
		return wasip1.ENOSPC
	case syscall.EDQUOT:
		return wasip1.EDQUOT
	case syscall.EFBIG:
		return wasip1.EFBIG
	}
	// EMLINK, EBUSY...: nothing closer than EIO.
	return experimentalsys.EIO
}
