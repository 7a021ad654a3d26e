package kernel

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
)

// output is a process tree's stdout or stderr as the host gave it. A write
// to a pipe nobody reads blocks in the host's write(2), where no kill can
// reach it. So each write runs on a helper goroutine while the guest waits
// in a way a kill interrupts. A gate lets one write at a time reach w: a
// write that a kill abandoned keeps the gate until the host's write
// finishes, so output from the tree is never interleaved or reordered, and
// at most one write per output is ever stuck, however many guests were
// killed waiting behind it.
type output struct {
	w    io.Writer
	gate chan struct{} // cap 1: held while a write to w is under way
	// direct is set for writers that cannot block for long (memory,
	// regular files): they are written in place, with no helper.
	direct bool
}

func newOutput(w io.Writer) *output {
	if o, ok := w.(*output); ok {
		return o
	}
	return &output{w: w, gate: make(chan struct{}, 1), direct: cannotBlock(w)}
}

// newOutputs makes a tree's stdout and stderr, sharing one gate when they
// are the same writer.
func newOutputs(stdout, stderr io.Writer) (io.Writer, io.Writer) {
	var o, e *output
	if stdout != nil {
		o = newOutput(stdout)
	}
	if stderr != nil {
		if stdout != nil && reflect.TypeOf(stderr).Comparable() && reflect.TypeOf(stdout).Comparable() && stderr == stdout {
			e = o
		} else {
			e = newOutput(stderr)
		}
	}
	// Typed nils must not become non-nil interfaces.
	var ow, ew io.Writer
	if o != nil {
		ow = o
	}
	if e != nil {
		ew = e
	}
	return ow, ew
}

// cannotBlock reports whether writes to w finish without waiting for a
// reader.
func cannotBlock(w io.Writer) bool {
	switch w := w.(type) {
	case *bytes.Buffer, *strings.Builder:
		return true
	case *os.File:
		fi, err := w.Stat()
		return err == nil && fi.Mode().IsRegular()
	}
	return w == io.Discard
}

// Write implements io.Writer for callers outside a process, such as the
// host: it waits for the gate and writes in place.
func (o *output) Write(b []byte) (int, error) {
	o.gate <- struct{}{}
	defer func() { <-o.gate }()
	return o.w.Write(b)
}

// writer returns p's view of o.
func (o *output) writer(p *Process) io.Writer { return &processOutput{o: o, p: p} }

// processOutput is one process's writer to an output.
type processOutput struct {
	o *output
	p *Process
}

type writeResult struct {
	n   int
	err error
}

var errKilledWrite = errors.New("write interrupted by kill")

// Write implements io.Writer. A kill while it waits, for the gate or for
// the host's write, ends the guest's call; the bytes of an abandoned write
// still reach the output if the host's write ever completes.
func (w *processOutput) Write(b []byte) (int, error) {
	p, o := w.p, w.o
	if o.direct {
		select {
		case o.gate <- struct{}{}:
		default:
			got := false
			p.Blocking(func() {
				select {
				case o.gate <- struct{}{}:
					got = true
				case <-p.killCh:
				}
			})
			if !got {
				p.checkKilled()
			}
		}
		defer func() { <-o.gate }()
		return o.w.Write(b)
	}
	var res writeResult
	p.Blocking(func() {
		select {
		case o.gate <- struct{}{}:
		case <-p.killCh:
			res.err = errKilledWrite
			return
		}
		buf := append([]byte(nil), b...) // the guest's memory must not be read after a kill
		done := make(chan writeResult, 1)
		go func() {
			n, err := o.w.Write(buf)
			<-o.gate
			done <- writeResult{n, err}
		}()
		select {
		case res = <-done:
		case <-p.killCh:
			res.err = errKilledWrite
		}
	})
	if res.err == errKilledWrite {
		p.checkKilled()
	}
	return res.n, res.err
}
