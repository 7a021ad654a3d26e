package kernel

import (
	"bytes"
	"sync"
)

// goAbortDetector recognises how a Go guest's runtime gives up. On wasip1
// the Go runtime reports an unrecovered panic or a fatal error (such as
// "out of memory") by printing "panic: ..." or "fatal error: ..." to
// stderr and exiting with code 2; there is no trap to catch. The detector
// watches stderr for such a line at the start of a line, so that exit code
// 2 after it is reported as an abandonment rather than a normal exit.
type goAbortDetector struct {
	mu      sync.Mutex
	line    []byte // the current line so far, capped
	atStart bool
	first   string // the first abort line seen
}

var goAbortPrefixes = [][]byte{[]byte("panic: "), []byte("fatal error: ")}

const goAbortMaxLine = 256

// scan watches one write to stderr. The WASI layer calls it with every
// write as the guest makes it (wasip1.Config.StderrTap).
func (d *goAbortDetector) scan(b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(b) > 0 && d.first == "" {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if room := goAbortMaxLine - len(d.line); room > 0 {
			d.line = append(d.line, chunk[:min(room, len(chunk))]...)
		}
		if i < 0 {
			return
		}
		d.endLine()
		b = b[i+1:]
	}
}

func (d *goAbortDetector) endLine() {
	for _, p := range goAbortPrefixes {
		if bytes.HasPrefix(d.line, p) {
			d.first = string(d.line)
			break
		}
	}
	d.line = d.line[:0]
}

// message returns the first abort line, including a final line that had
// no newline.
func (d *goAbortDetector) message() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.first == "" && len(d.line) > 0 {
		d.endLine()
	}
	return d.first
}
