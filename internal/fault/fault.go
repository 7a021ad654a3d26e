// Package fault turns the errors wazero returns from a guest call into
// isle's typed abandonment reasons.
//
// wazero's trap values live in its internal packages, so the only stable
// surface is the error text: "wasm error: <trap>" followed by "wasm stack
// trace:" and one line per frame, each optionally followed by source lines
// when the module carries DWARF. The format is pinned by tests that trap a
// real module of each kind, so a wazero upgrade that changes it fails loudly.
package fault

import (
	"errors"
	"strconv"
	"strings"

	"github.com/isle-run/isle/api"
)

// Abandon is an error a host function panics with to abandon the calling
// process. wazero recovers the panic and returns it wrapped, with the wasm
// stack trace appended, so errors.As finds it again.
type Abandon struct {
	Cause  api.Cause
	Detail string
}

// Error implements error.
func (a *Abandon) Error() string {
	if a.Detail == "" {
		return a.Cause.String()
	}
	return a.Cause.String() + ": " + a.Detail
}

// Kill is an error a host function panics with when the process has been
// killed from outside.
type Kill struct{ Reason string }

// Error implements error.
func (k *Kill) Error() string { return "killed: " + k.Reason }

var trapCauses = map[string]api.Cause{
	"unreachable":                   api.CauseUnreachable,
	"integer divide by zero":        api.CauseDivideByZero,
	"integer overflow":              api.CauseIntegerOverflow,
	"invalid conversion to integer": api.CauseInvalidConversion,
	"out of bounds memory access":   api.CauseOutOfBounds,
	"stack overflow":                api.CauseStackExhausted,
	"invalid table access":          api.CauseTableAccess,
	"indirect call type mismatch":   api.CauseIndirectCallType,
	"null reference":                api.CauseNullReference,
}

// FromError classifies a non-exit error from a guest call. It never
// returns nil: an error it does not recognise is a host fault, so that a
// bug in isle abandons one process instead of crashing the node.
func FromError(err error) *api.Abandonment {
	frames := Frames(err.Error())
	var ab *Abandon
	if errors.As(err, &ab) {
		return &api.Abandonment{Cause: ab.Cause, Detail: ab.Detail, Frames: frames}
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	// wazero returns stack overflow bare, without unwinding to build a
	// trace, so there are no frames to report.
	if first == "stack overflow" {
		return &api.Abandonment{Cause: api.CauseStackExhausted}
	}
	if msg, ok := strings.CutPrefix(first, "wasm error: "); ok {
		if c, ok := trapCauses[msg]; ok {
			return &api.Abandonment{Cause: c, Frames: frames}
		}
		return &api.Abandonment{Cause: api.CauseHostFault, Detail: msg, Frames: frames}
	}
	return &api.Abandonment{Cause: api.CauseHostFault, Detail: first, Frames: frames}
}

// DispatchModule is the name the kernel's dispatcher module gives itself,
// through which reactors' handlers are called; DispatchFrame is the frame
// of its dispatch function. A turn's outermost frame is the kernel's, not
// the guest's, and Frames leaves it out.
const (
	DispatchModule = "isle:dispatch"
	DispatchFrame  = DispatchModule + ".dispatch(i32,i32,i32,i32,i32)"
)

// Frames parses the "wasm stack trace:" part of a wazero error.
func Frames(msg string) []api.Frame {
	_, trace, ok := strings.Cut(msg, "wasm stack trace:\n")
	if !ok {
		return nil
	}
	var frames []api.Frame
	for _, line := range strings.Split(trace, "\n") {
		switch {
		case strings.HasPrefix(line, "\t\t"):
			// A source line of the frame above: "0x1f: file.c:12:3",
			// possibly "(inlined)". Keep the innermost, which comes first.
			if n := len(frames); n > 0 && frames[n-1].File == "" {
				parseSource(&frames[n-1], strings.TrimSpace(line))
			}
		case strings.HasPrefix(line, "\t"):
			sig := strings.TrimPrefix(line, "\t")
			frames = append(frames, api.Frame{Function: funcName(sig), Signature: strings.TrimPrefix(sig, ".")})
		default:
			// A blank line ends the trace; anything after it (such as a Go
			// stack for a runtime.Error) is not part of the wasm stack.
			return dropDispatch(frames)
		}
	}
	return dropDispatch(frames)
}

// dropDispatch leaves out the outermost frame if it is the dispatcher's. A
// guest cannot name its own outermost frame so: a turn's is always the
// dispatcher's, and every other entry point takes no parameters.
func dropDispatch(frames []api.Frame) []api.Frame {
	if n := len(frames); n > 0 && frames[n-1].Signature == DispatchFrame {
		return frames[:n-1]
	}
	return frames
}

// funcName strips the parameter list and the empty instance name that
// wazero prefixes (".main" for an anonymous instance).
func funcName(sig string) string {
	if i := strings.LastIndexByte(sig, '('); i >= 0 {
		sig = sig[:i]
	}
	return strings.TrimPrefix(sig, ".")
}

// parseSource reads "0x1f: /src/x.c:12:3 (inlined)" into f.
func parseSource(f *api.Frame, s string) {
	if _, rest, ok := strings.Cut(s, ": "); ok {
		s = rest
	}
	s = strings.TrimSuffix(s, " (inlined)")
	// Split from the right: file names may contain colons.
	parts := strings.Split(s, ":")
	nums := []int{}
	for len(parts) > 1 && len(nums) < 2 {
		n, err := strconv.Atoi(parts[len(parts)-1])
		if err != nil {
			break
		}
		nums = append([]int{n}, nums...)
		parts = parts[:len(parts)-1]
	}
	f.File = strings.Join(parts, ":")
	if len(nums) > 0 {
		f.Line = nums[0]
	}
	if len(nums) > 1 {
		f.Column = nums[1]
	}
}
