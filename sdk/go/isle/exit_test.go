package isle

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/isle-run/isle/api"
)

func TestDecodeExitReason(t *testing.T) {
	t.Parallel()
	b := binary.LittleEndian.AppendUint32(nil, 2)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(api.CauseMisuse))
	b = binary.LittleEndian.AppendUint32(b, 5)
	b = append(b, "oops!"...)
	r, ok := DecodeExitReason(b)
	if !ok || r.Kind != ExitAbandoned || r.Cause != api.CauseMisuse || r.Text != "oops!" || r.Normal() {
		t.Fatalf("%+v %v", r, ok)
	}
	if _, ok := DecodeExitReason(b[:20]); ok {
		t.Error("a truncated text decoded")
	}
	if _, ok := DecodeExitReason(b[:15]); ok {
		t.Error("a truncated header decoded")
	}
	if s := ExitNoProc.String(); s != "noproc" {
		t.Error(s)
	}
}

func TestErrno(t *testing.T) {
	t.Parallel()
	var err error = fmt.Errorf("call worker: %w", errno(-2))
	if !errors.Is(err, ErrGone) || errors.Is(err, ErrTimeout) {
		t.Errorf("%v", err)
	}
	if !errors.Is(ErrTimeout, context.DeadlineExceeded) || errors.Is(ErrGone, context.DeadlineExceeded) {
		t.Error("only ErrTimeout is a deadline")
	}
	if errno(0) != nil || errno(5) != nil {
		t.Error("non-negative results are not errors")
	}
	if ErrFull.Error() != "isle: mailbox full" || Errno(-99).Error() != "isle: error -99" {
		t.Error(ErrFull.Error(), Errno(-99).Error())
	}
}
