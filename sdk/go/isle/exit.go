package isle

import (
	"encoding/binary"
	"strconv"

	"github.com/isle-run/isle/api"
)

// ExitKind says how a process ended, as reported in TagExit and TagDown
// messages.
type ExitKind uint32

const (
	// ExitNormal: the process returned or called Exit; ExitReason.Code is
	// its code.
	ExitNormal ExitKind = 1
	// ExitAbandoned: the process hit a bug; ExitReason.Cause says which
	// kind.
	ExitAbandoned ExitKind = 2
	// ExitKilled: something outside ended it (Kill, a timeout, a linked
	// process); ExitReason.Text names it.
	ExitKilled ExitKind = 3
	// ExitNoProc: the process had already ended when the link or monitor
	// was made, so how it ended is not known.
	ExitNoProc ExitKind = 4
)

// String returns "normal", "abandoned", "killed" or "noproc".
func (k ExitKind) String() string {
	switch k {
	case ExitNormal:
		return "normal"
	case ExitAbandoned:
		return "abandoned"
	case ExitKilled:
		return "killed"
	case ExitNoProc:
		return "noproc"
	}
	return "ExitKind(" + strconv.Itoa(int(k)) + ")"
}

// ExitReason is why a linked or monitored process ended: the payload of
// TagExit and TagDown messages.
type ExitReason struct {
	Kind ExitKind
	// Code is the exit code when Kind is ExitNormal.
	Code uint32
	// Cause classifies the bug when Kind is ExitAbandoned.
	Cause api.Cause
	// Text is a one-line description, such as "exited with code 3" or
	// "killed: link: abandoned: runtime abort: go: panic: boom".
	Text string
}

// Normal reports whether the process exited by itself with code 0: the
// one exit that does not take linked processes down with it.
func (r ExitReason) Normal() bool { return r.Kind == ExitNormal && r.Code == 0 }

// String returns the reason's text, or its kind if there is none.
func (r ExitReason) String() string {
	if r.Text != "" {
		return r.Text
	}
	return r.Kind.String()
}

// DecodeExitReason decodes the payload of a TagExit or TagDown message
// (the ABI's struct isle_exit). ok is false if b is not one.
func DecodeExitReason(b []byte) (r ExitReason, ok bool) {
	if len(b) < 16 {
		return ExitReason{}, false
	}
	n := binary.LittleEndian.Uint32(b[12:])
	if uint64(n) > uint64(len(b)-16) {
		return ExitReason{}, false
	}
	return ExitReason{
		Kind:  ExitKind(binary.LittleEndian.Uint32(b[0:])),
		Code:  binary.LittleEndian.Uint32(b[4:]),
		Cause: api.Cause(binary.LittleEndian.Uint32(b[8:])),
		Text:  string(b[16 : 16+n]),
	}, true
}
