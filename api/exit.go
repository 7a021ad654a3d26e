// Package api holds the values that cross isle's public boundary: how a
// process ended and why. It has no dependencies so that the embedding API,
// the CLI and the kernel can all share one definition.
package api

import (
	"fmt"
	"strings"
)

// ExitKind says how a process ended.
type ExitKind uint8

const (
	// ExitNormal means the process returned from its entry point or called
	// exit; Exit.Code holds the code it chose.
	ExitNormal ExitKind = iota + 1
	// ExitAbandoned means the process hit a bug (a trap, an exhausted quota,
	// a misused handle) and was torn down at once; Exit.Abandon says why.
	ExitAbandoned
	// ExitKilled means something outside the process ended it: Kill, a
	// timeout, or a cancelled context; Exit.Killed says which.
	ExitKilled
	// ExitNoConnection means the process or service was on another node,
	// and that node was lost: it stopped answering, or shut down, before
	// it reported the end. How the process itself fared is unknown. (4 is
	// the ABI's noproc, which is not an exit of a process.)
	ExitNoConnection ExitKind = 5
)

// String returns "normal", "abandoned" or "killed".
func (k ExitKind) String() string {
	switch k {
	case ExitNormal:
		return "normal"
	case ExitAbandoned:
		return "abandoned"
	case ExitKilled:
		return "killed"
	case ExitNoConnection:
		return "noconnection"
	}
	return fmt.Sprintf("ExitKind(%d)", uint8(k))
}

// Exit is how a process ended. Exactly one of Code, Abandon or Killed is
// meaningful, chosen by Kind.
type Exit struct {
	Kind ExitKind
	// Code is the guest's exit code when Kind is ExitNormal.
	Code uint32
	// Abandon describes the bug when Kind is ExitAbandoned.
	Abandon *Abandonment
	// Killed names who ended the process when Kind is ExitKilled:
	// "killed", "timeout", or the cancelled context's cause. When Kind is
	// ExitNoConnection, it says how the node was lost: "node down" (it
	// went silent) or "node shut down".
	Killed string
}

// Normal reports whether the process exited by itself with code 0.
func (e Exit) Normal() bool { return e.Kind == ExitNormal && e.Code == 0 }

// String describes the exit in one line.
func (e Exit) String() string {
	switch e.Kind {
	case ExitNormal:
		return fmt.Sprintf("exited with code %d", e.Code)
	case ExitAbandoned:
		if e.Abandon != nil {
			return "abandoned: " + e.Abandon.Error()
		}
		return "abandoned"
	case ExitKilled:
		return "killed: " + e.Killed
	case ExitNoConnection:
		if e.Killed != "" {
			return "noconnection: " + e.Killed
		}
		return "noconnection"
	}
	return "unknown exit"
}

// Cause classifies why a process was abandoned.
type Cause uint8

const (
	// CauseUnreachable is the wasm unreachable instruction: a guest
	// runtime's abort, a failed assertion, or __builtin_trap.
	CauseUnreachable Cause = iota + 1
	// CauseDivideByZero is an integer division or remainder by zero.
	CauseDivideByZero
	// CauseIntegerOverflow is a signed division that overflows.
	CauseIntegerOverflow
	// CauseInvalidConversion is a float-to-integer conversion of NaN or of
	// a value out of range.
	CauseInvalidConversion
	// CauseOutOfBounds is a load or store outside linear memory.
	CauseOutOfBounds
	// CauseStackExhausted is a call stack that grew past its limit.
	CauseStackExhausted
	// CauseTableAccess is an out-of-range table element or a null entry.
	CauseTableAccess
	// CauseIndirectCallType is a call_indirect whose signature did not match.
	CauseIndirectCallType
	// CauseNullReference is a use of a null reference.
	CauseNullReference
	// CauseFuelExhausted is a process that spent its whole fuel budget.
	CauseFuelExhausted
	// CauseRuntimeAbort is a guest language runtime that gave up, such as
	// Go's "fatal error: out of memory" or an unrecovered panic.
	CauseRuntimeAbort
	// CauseMisuse is a broken ABI contract: a handle the process does not
	// own, a pointer outside its memory, an impossible length.
	CauseMisuse
	// CauseHostFault is a failure inside isle while serving the process;
	// it is reported rather than allowed to crash the node.
	CauseHostFault
)

var causeNames = [...]string{
	CauseUnreachable:       "unreachable",
	CauseDivideByZero:      "integer divide by zero",
	CauseIntegerOverflow:   "integer overflow",
	CauseInvalidConversion: "invalid conversion to integer",
	CauseOutOfBounds:       "out of bounds memory access",
	CauseStackExhausted:    "stack exhausted",
	CauseTableAccess:       "invalid table access",
	CauseIndirectCallType:  "indirect call type mismatch",
	CauseNullReference:     "null reference",
	CauseFuelExhausted:     "fuel exhausted",
	CauseRuntimeAbort:      "runtime abort",
	CauseMisuse:            "ABI misuse",
	CauseHostFault:         "host fault",
}

// String names the cause, for example "integer divide by zero".
func (c Cause) String() string {
	if int(c) < len(causeNames) && causeNames[c] != "" {
		return causeNames[c]
	}
	return fmt.Sprintf("Cause(%d)", uint8(c))
}

// Abandonment is the precise reason a process was abandoned.
type Abandonment struct {
	Cause Cause
	// Detail adds to the cause, for example the Go runtime's own message or
	// which handle was misused. It may be empty.
	Detail string
	// Frames is the wasm call stack at the fault, innermost first. It is
	// empty when the fault was not inside wasm code.
	Frames []Frame
}

// Error returns the cause, its detail, and the innermost function.
func (a *Abandonment) Error() string {
	s := a.Cause.String()
	if a.Detail != "" {
		s += ": " + a.Detail
	}
	if len(a.Frames) > 0 {
		s += " in " + a.Frames[0].Function
		if loc := a.Frames[0].Location(); loc != "" {
			s += " at " + loc
		}
	}
	return s
}

// Trace renders the frames one per line, indented, as isle run prints them.
func (a *Abandonment) Trace() string {
	var b strings.Builder
	for _, f := range a.Frames {
		b.WriteString("    ")
		b.WriteString(f.Signature)
		if loc := f.Location(); loc != "" {
			b.WriteString("\n        at ")
			b.WriteString(loc)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Frame is one wasm function on the stack of an abandoned process.
type Frame struct {
	// Function is the function's name from the module's name section, or
	// a synthesised "$N" when the module has none.
	Function string
	// Signature is the function with its wasm parameter and result types.
	Signature string
	// File, Line and Column come from the module's DWARF, when present.
	File   string
	Line   int
	Column int
}

// Location returns "file:line:column", or "" when there is no DWARF.
func (f Frame) Location() string {
	if f.File == "" {
		return ""
	}
	if f.Column > 0 {
		return fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column)
	}
	return fmt.Sprintf("%s:%d", f.File, f.Line)
}
