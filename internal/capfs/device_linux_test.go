package capfs

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	xsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/isle-run/isle/internal/testwasm"
)

// Device nodes and FIFOs are refused: os.Root does not stop them, and a
// directory capability is about files.
func TestDeviceRefused(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, ReadWrite)
	null := filepath.Join(s.tree, "null")
	// /dev/null is char device 1:3 on Linux.
	if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Skipf("cannot make a device node here: %v", err)
	}
	s.hostLink(t, "null", "tonull")
	for _, p := range []string{"null", "tonull"} {
		_, errno := s.fs.OpenFile(p, xsys.O_RDONLY, 0)
		wantErrno(t, "open "+p, errno, xsys.EACCES)
		_, errno = s.fs.OpenFile(p, xsys.O_WRONLY, 0)
		wantErrno(t, "open "+p+" for writing", errno, xsys.EACCES)
	}
	_, errno := s.fs.OpenFile("null", xsys.O_RDONLY|xsys.O_NOFOLLOW, 0)
	wantErrno(t, "open null O_NOFOLLOW", errno, xsys.EACCES)
	// A FIFO would block the open until a writer came along.
	fifo := filepath.Join(s.tree, "fifo")
	mustDo(t, syscall.Mkfifo(fifo, 0o666))
	done := make(chan xsys.Errno, 1)
	go func() {
		_, errno := s.fs.OpenFile("fifo", xsys.O_RDONLY, 0)
		done <- errno
	}()
	select {
	case errno = <-done:
		wantErrno(t, "open fifo", errno, xsys.EACCES)
	case <-testwasm.Context(t).Done():
		// Release the blocked open by showing up as a writer.
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		t.Fatal("open of a FIFO blocked")
	}
	// Its metadata is still visible, like any entry.
	st, errno := s.fs.Lstat("null")
	ok(t, "Lstat null", errno)
	if st.Mode&os.ModeCharDevice == 0 {
		t.Errorf("null mode %v", st.Mode)
	}
}
