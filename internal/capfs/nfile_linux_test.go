package capfs

import (
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
	var errno experimentalsys.Errno
	outOfDescriptors(t, func() {
		var file experimentalsys.File
		if file, errno = f.OpenFile("d/f", experimentalsys.O_RDONLY, 0); errno == 0 {
			file.Close()
		}
	})
	if errno != wasip1.ENFILE {
		t.Fatalf("open with the host out of descriptors: %v; want capfs's ENFILE", errno)
	}
}
