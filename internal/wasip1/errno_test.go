package wasip1

import (
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// The errnos a file system answers beyond wazero's set reach the guest as
// WASI's own, not as EIO.
func TestErrnosBeyondWazeros(t *testing.T) {
	t.Parallel()
	for in, want := range map[experimentalsys.Errno]Errno{
		ENFILE: errNfile, ENOSPC: errNospc, EDQUOT: errDquot, EFBIG: errFbig,
		experimentalsys.EIO: errIO, experimentalsys.Errno(0x2000): errIO,
	} {
		if got := fromSys(in); got != want {
			t.Errorf("fromSys(%v) = %d, want %d", in, got, want)
		}
	}
}
