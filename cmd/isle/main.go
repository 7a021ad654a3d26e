// Command isle runs WebAssembly programs as software-isolated processes.
//
//	isle run [flags] MODULE [-- ARGS...]
//
// See `isle help` and the README for the exit statuses.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses. Guest exit codes 0–123 pass through unchanged; isle keeps
// the rest for itself so that no ordinary guest exit can be mistaken for
// one of these.
const (
	statusTimeout    = 124 // --timeout expired
	statusInternal   = 125 // isle itself failed
	statusUsage      = 126 // bad flags or a module that cannot be loaded
	statusCodeRange  = 127 // the guest exited with a code of 124 or more
	statusInterrupt  = 130 // SIGINT or SIGTERM ended the guest
	statusAbandoned  = 134 // the guest was abandoned (128 + SIGABRT)
	statusKilled     = 137 // the guest was killed (128 + SIGKILL)
	maxPassThrough   = 123
	usageLine        = "usage: isle run [flags] MODULE [-- ARGS...]"
	moreHelpSentence = "run 'isle help' for the flags"
)

// usageError is bad input: it prints one line and exits statusUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// realMain runs the CLI and returns its exit status. It is main without
// the os.Exit, so tests can drive it.
func realMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) == 0 {
		fmt.Fprintln(stderr, usageLine)
		fmt.Fprintln(stderr, moreHelpSentence)
		return statusUsage
	}
	if status, done := preDispatch(args, stdout, stderr); done {
		return status
	}
	var status int
	var err error
	switch args[0] {
	case "run":
		status, err = runCmd(ctx, args[1:], stdin, stdout, stderr)
	case "up":
		status, err = upCmd(ctx, args[1:], stdin, stdout, stderr)
	case "cluster":
		status, err = clusterCmd(args[1:], stderr)
	case "caps":
		status, err = capsCmd(ctx, args[1:], stdout, stderr)
	case "ps":
		status, err = psCmd(args[1:], stdout, stderr)
	case "top":
		status, err = topCmd(ctx, args[1:], stdin, stdout, stderr)
	case "inspect":
		status, err = inspectCmd(args[1:], stdout, stderr)
	case "kill":
		status, err = killCmd(args[1:], stderr)
	case "restart":
		status, err = restartCmd(args[1:], stderr)
	case "logs":
		status, err = logsCmd(ctx, args[1:], stdout, stderr)
	default:
		err = unknownCommand(args[0])
	}
	if err != nil {
		fmt.Fprintf(stderr, "isle: %v\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			return statusUsage
		}
		return statusInternal
	}
	return status
}
