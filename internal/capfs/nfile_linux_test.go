package capfs

import (
	"syscall"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/isle-run/isle/internal/wasip1"
)

// An open that fails because the host is out of descriptors says so
// (ENFILE, which WASI passes on), not EIO: a guest can tell a full table
// from a broken disk. Not parallel: it lowers the process's RLIMIT_NOFILE.
func TestHostOutOfDescriptorsIsENFILE(t *testing.T) {
	s := newSandbox(t, ReadWrite)
	s.hostFile(t, "d/f", "x")
	f := s.open(t, ReadWrite)
	if file, errno := f.OpenFile("d/f", experimentalsys.O_RDONLY, 0); errno != 0 {
		t.Fatalf("open before: %v", errno)
	} else {
		file.Close()
	}
	var lim syscall.Rlimit
	mustDo(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	orig := lim
	lim.Cur = uint64(openFds(t) + 8)
	mustDo(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	var fill []int
	for {
		fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		fill = append(fill, fd)
	}
	file, errno := f.OpenFile("d/f", experimentalsys.O_RDONLY, 0)
	if errno == 0 {
		file.Close()
	}
	for _, fd := range fill {
		syscall.Close(fd)
	}
	mustDo(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig))
	if errno != wasip1.ENFILE {
		t.Fatalf("open with the host out of descriptors: %v; want capfs's ENFILE", errno)
	}
}
