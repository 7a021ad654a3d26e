package isle

import (
	"strconv"
	"time"
	"unsafe"

	"github.com/isle-run/isle/api"
)

// Kind says what a handle names; see Inspect.
type Kind uint32

// The kinds of handle, with their numbers in the ABI (docs/ABI.md,
// "Capabilities").
const (
	KindProcess Kind = 1
	KindReply   Kind = 2
	KindSpawner Kind = 3
	KindDir     Kind = 4
	KindKV      Kind = 5
	KindClock   Kind = 6
	KindRandom  Kind = 7
	KindLog     Kind = 8
	KindHTTP    Kind = 9
	KindRevoker Kind = 10
)

// CapInfo describes a handle: what it names and what it allows.
type CapInfo struct {
	Kind    Kind
	Rights  api.Rights
	Revoked bool
}

// Inspect reports a handle's kind and rights.
func Inspect(h Handle) CapInfo {
	var raw [3]uint32
	abiInspect(uint32(h), unsafe.Pointer(&raw[0]))
	return CapInfo{Kind: Kind(raw[0]), Rights: api.Rights(raw[1]), Revoked: raw[2] != 0}
}

// Dup returns a new handle to the same thing carrying only rights, which
// must be a subset of h's: rights can be dropped, never regained
// (ErrRights).
func Dup(h Handle, rights api.Rights) (Handle, error) {
	r := abiDup(uint32(h), uint32(rights))
	if err := errno(r); err != nil {
		return 0, err
	}
	return Handle(r), nil
}

// Revocable makes a revocable forwarder to what h names, with rights, and
// returns it with its revoker. Pass the forwarder on; Revoke(revoker) later
// kills it and every copy of it, wherever they are, and their holders get
// ErrRevoked.
func Revocable(h Handle, rights api.Rights) (forwarder, revoker Handle, err error) {
	var rv uint32
	r := abiRevocable(uint32(h), uint32(rights), unsafe.Pointer(&rv))
	if err := errno(r); err != nil {
		return 0, 0, err
	}
	return Handle(r), Handle(rv), nil
}

// Revoke kills the forwarders its revoker was made with.
func Revoke(revoker Handle) error { return errno(abiRevoke(uint32(revoker))) }

// DirPath is where a directory handle can be opened with ordinary file
// calls (os.Open, os.ReadDir...): a path under /.cap. The path works for as
// long as the handle is in this process's table and not revoked, with
// exactly the handle's rights.
func DirPath(h Handle) string { return "/.cap/" + strconv.FormatUint(uint64(h), 10) }

// Now reads a clock capability: the monotonic clock (elapsed time since
// the node started) needs api.RightMonotonic, the wall clock
// api.RightWall.
func Now(clock Handle, wall bool) (time.Duration, error) {
	which := uint32(0)
	if wall {
		which = 1
	}
	var ns int64
	if err := errno(abiClockNow(uint32(clock), which, unsafe.Pointer(&ns))); err != nil {
		return 0, err
	}
	return time.Duration(ns), nil
}

// WallTime reads the wall clock of a clock capability.
func WallTime(clock Handle) (time.Time, error) {
	d, err := Now(clock, true)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, int64(d)), nil
}

// ReadRandom fills b from an entropy capability.
func ReadRandom(random Handle, b []byte) error {
	for len(b) > 0 {
		n := min(len(b), 1<<16)
		if err := errno(abiRandomFill(uint32(random), unsafe.Pointer(unsafe.SliceData(b)), uint32(n))); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// Log levels, as log/slog numbers them.
const (
	LevelDebug = -4
	LevelInfo  = 0
	LevelWarn  = 4
	LevelError = 8
)

// Log writes one record to the node's log through a log capability. The
// node tags it with this process.
func Log(log Handle, level int, msg string) error {
	return errno(abiLogWrite(uint32(log), int32(level), msg))
}
