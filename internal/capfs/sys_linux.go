//go:build linux

package capfs

import (
	"os"
	"syscall"
	"unsafe"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// osFlag translates wazero's open flags to the host's.
func osFlag(flag experimentalsys.Oflag) int {
	o := accessFlag(flag)
	for _, m := range []struct {
		from experimentalsys.Oflag
		to   int
	}{
		{experimentalsys.O_APPEND, os.O_APPEND},
		{experimentalsys.O_CREAT, os.O_CREATE},
		{experimentalsys.O_EXCL, os.O_EXCL},
		{experimentalsys.O_TRUNC, os.O_TRUNC},
		{experimentalsys.O_DIRECTORY, syscall.O_DIRECTORY},
		{experimentalsys.O_NOFOLLOW, syscall.O_NOFOLLOW},
		{experimentalsys.O_DSYNC, syscall.O_DSYNC},
		{experimentalsys.O_RSYNC, syscall.O_RSYNC},
		{experimentalsys.O_SYNC, syscall.O_SYNC},
		{experimentalsys.O_NONBLOCK, syscall.O_NONBLOCK},
	} {
		if flag&m.from != 0 {
			o |= m.to
		}
	}
	return o
}

// control runs fn on f's descriptor without detaching it from Go's
// runtime, as f.Fd() would.
func control(f *os.File, fn func(fd int) error) experimentalsys.Errno {
	rc, err := f.SyscallConn()
	if err != nil {
		return toErrno(err)
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = fn(int(fd)) }); err != nil {
		return toErrno(err)
	}
	return toErrno(opErr)
}

// setAppend flips O_APPEND on the open descriptor (Linux allows F_SETFL
// to change it), instead of re-opening the file by name.
func setAppend(f *os.File, enable bool) experimentalsys.Errno {
	return control(f, func(fd int) error {
		fl, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
		if e != 0 {
			return e
		}
		if enable {
			fl |= syscall.O_APPEND
		} else {
			fl &^= syscall.O_APPEND
		}
		if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETFL, fl); e != 0 {
			return e
		}
		return nil
	})
}

// pwrite calls pwrite(2) directly: os.File.WriteAt refuses files opened
// with O_APPEND, where Linux appends instead (see pwrite(2), BUGS).
func pwrite(f *os.File, buf []byte, off int64) (int, experimentalsys.Errno) {
	var n int
	errno := control(f, func(fd int) (err error) {
		n, err = syscall.Pwrite(fd, buf, off)
		return err
	})
	return max(n, 0), errno
}

// datasync is fdatasync(2).
func datasync(f *os.File) experimentalsys.Errno {
	return control(f, syscall.Fdatasync)
}

// utimeOmit is the kernel's UTIME_OMIT timespec nanoseconds.
const utimeOmit = (1 << 30) - 2

// futimens sets times on the descriptor itself (utimensat with a NULL
// path), so no name is resolved at all.
func futimens(f *os.File, atim, mtim int64) experimentalsys.Errno {
	if atim == experimentalsys.UTIME_OMIT && mtim == experimentalsys.UTIME_OMIT {
		return 0
	}
	ts := [2]syscall.Timespec{toTimespec(atim), toTimespec(mtim)}
	return control(f, func(fd int) error {
		_, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	})
}

func toTimespec(ns int64) syscall.Timespec {
	if ns == experimentalsys.UTIME_OMIT {
		return syscall.Timespec{Nsec: utimeOmit}
	}
	return syscall.NsecToTimespec(ns)
}

// lutimensat is utimensat(dir, name, times, AT_SYMLINK_NOFOLLOW).
func lutimensat(dir *os.File, name string, atim, mtim int64) experimentalsys.Errno {
	if atim == experimentalsys.UTIME_OMIT && mtim == experimentalsys.UTIME_OMIT {
		return 0
	}
	cname, err := syscall.BytePtrFromString(name)
	if err != nil {
		return experimentalsys.EINVAL
	}
	ts := [2]syscall.Timespec{toTimespec(atim), toTimespec(mtim)}
	return control(dir, func(fd int) error {
		_, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(fd), uintptr(unsafe.Pointer(cname)),
			uintptr(unsafe.Pointer(&ts)), atSymlinkNofollow, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	})
}

// atSymlinkNofollow is the kernel's AT_SYMLINK_NOFOLLOW.
const atSymlinkNofollow = 0x100
