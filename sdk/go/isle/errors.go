package isle

import (
	"context"
	"errors"
	"strconv"
)

// Errno is an expected failure reported by the kernel: one of the ABI's
// negative error codes. Compare with errors.Is against the Err values.
type Errno int32

// The kernel's expected failures. Each is an Errno, so errors.Is works on
// them and on anything that wraps them.
const (
	// ErrTimeout: the deadline passed, or nothing was ready. It also
	// matches context.DeadlineExceeded.
	ErrTimeout Errno = -1
	// ErrGone: the peer process has ended, or the caller of a reply gave
	// up.
	ErrGone Errno = -2
	// ErrFull: the receiver's mailbox is full (TrySend only).
	ErrFull Errno = -3
	// ErrTooBig: a message is over MaxMessage.
	ErrTooBig Errno = -4
	// ErrRights: the handle lacks a right the operation needs.
	ErrRights Errno = -5
	// ErrRevoked: the handle was revoked by its grantor.
	ErrRevoked Errno = -6
	// ErrLimit: a limit was reached: the node's process limit, the spawn
	// quota or the handle table.
	ErrLimit Errno = -7
	// ErrNotFound: no such grant or module.
	ErrNotFound Errno = -8
	// ErrIO: a storage or network failure.
	ErrIO Errno = -9
	// ErrDenied: the capability does not allow this, such as an HTTP
	// request to an origin off its allowlist.
	ErrDenied Errno = -10
)

var errnoText = [...]string{
	1:  "timed out",
	2:  "peer gone",
	3:  "mailbox full",
	4:  "message too big",
	5:  "handle lacks the right",
	6:  "handle revoked",
	7:  "limit reached",
	8:  "not found",
	9:  "storage or network failure",
	10: "denied by the capability",
}

// Error describes the failure, such as "isle: peer gone".
func (e Errno) Error() string {
	if i := -int(e); i > 0 && i < len(errnoText) {
		return "isle: " + errnoText[i]
	}
	return "isle: error " + strconv.Itoa(int(e))
}

// Is makes ErrTimeout match context.DeadlineExceeded too, so code written
// against contexts keeps working.
func (e Errno) Is(target error) bool {
	return e == ErrTimeout && target == context.DeadlineExceeded
}

// ErrNotRequest is returned by (Message).Reply and (Message).Decline for a
// message that is not a request, or whose request was already answered.
// Unlike the Errno values it comes from this package, not the kernel.
var ErrNotRequest = errors.New("isle: not a request, or already answered")

// errno turns a negative ABI result into its Errno, and anything else into
// nil.
func errno(r int32) error {
	if r >= 0 {
		return nil
	}
	return Errno(r)
}
