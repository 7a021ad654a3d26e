package wasip1

import (
	"io"
	"os"
	"sync"
)

// input is stdin. A read on the host may block for ever (a terminal, a
// pipe nobody writes to), so it runs on a helper goroutine into a buffer
// of its own, and the guest waits for it killably. poll_oneoff starts the
// same read to learn when stdin is readable; what it reads is kept for the
// next fd_read, so polling loses nothing.
type input struct {
	r       io.Reader
	pending chan struct{} // closed when the read in flight ends; nil if none
	buf     []byte        // read and not yet consumed
	err     error         // the read's error, reported once buf is empty
	next    []byte        // where the helper reads
	// Written by the helper, read only once pending is closed.
	rn   int
	rerr error
}

const inputChunk = 32 << 10

func newInput(r io.Reader) *input { return &input{r: r} }

// ready reports whether a read would not block.
func (in *input) ready() bool {
	if in == nil || in.r == nil || len(in.buf) > 0 || (in.err != nil && in.pending == nil) {
		return true
	}
	if in.pending != nil {
		select {
		case <-in.pending:
			in.collect()
			return true
		default:
		}
	}
	return false
}

// start begins a read if none is in flight, and returns the channel that
// is closed when it ends.
func (in *input) start() <-chan struct{} {
	if in.pending == nil {
		done := make(chan struct{})
		in.pending = done
		if in.next == nil {
			// Reuse the last read's buffer once it is consumed.
			if cap(in.buf) >= inputChunk && len(in.buf) == 0 {
				in.next = in.buf[:cap(in.buf)]
			} else {
				in.next = make([]byte, inputChunk)
			}
		}
		buf := in.next
		go func() {
			in.rn, in.rerr = in.r.Read(buf)
			close(done)
		}()
	}
	return in.pending
}

// collect takes the finished read's bytes into buf, and its error for
// after them. The helper has closed pending, so its writes are visible.
func (in *input) collect() {
	in.buf = in.next[:max(in.rn, 0)]
	in.err = in.rerr
	in.next = nil // the helper's buffer now belongs to buf
	in.pending = nil
}

// read fills b, waiting for input if none is buffered. A kill ends the
// wait.
func (s *State) readStdin(in *input, b []byte) (int, Errno) {
	if in == nil || in.r == nil {
		return 0, 0
	}
	if len(in.buf) == 0 && in.err == nil {
		done := in.start()
		select {
		case <-done:
		default:
			s.host.Blocking(func() {
				select {
				case <-done:
				case <-s.host.KillContext().Done():
				}
			})
		}
		s.host.CheckKilled()
		in.collect()
	}
	if len(in.buf) > 0 {
		n := copy(b, in.buf)
		in.buf = in.buf[n:]
		return n, 0
	}
	if in.err == io.EOF {
		in.err = nil // a later read may find more, as on a terminal
		return 0, 0
	}
	if in.err != nil {
		in.err = nil
		return 0, errIO
	}
	return 0, 0
}

// output is stdout or stderr: a bounded queue in front of the host's
// writer, emptied by a pump goroutine started on the first write. A guest
// writing to a pipe nobody reads blocks only while the queue is full, and
// killably: the host's Write is never called on the guest's goroutine.
type output struct {
	w       io.Writer
	mu      sync.Mutex
	buf     []byte // queued, in order
	spare   []byte
	closed  bool          // no more writes; the pump exits once empty
	err     error         // the first error from w
	started bool          // the pump runs
	kick    chan struct{} // wakes the pump
	room    chan struct{} // tells a blocked writer the pump took bytes
	done    chan struct{} // closed when the pump has written everything
}

// outputLimit bounds the bytes queued for one writer.
const outputLimit = 64 << 10

func newOutput(w io.Writer) *output {
	return &output{w: w, kick: make(chan struct{}, 1), room: make(chan struct{}, 1), done: make(chan struct{})}
}

// space is how many bytes a write could queue now without blocking.
func (o *output) space() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return outputLimit - len(o.buf)
}

// write queues all of b, blocking while the queue is full. It fails with
// EIO once the host's writer has failed.
func (s *State) writeOut(o *output, b []byte) (int, Errno) {
	if o == nil {
		return len(b), 0
	}
	total := len(b)
	for {
		o.mu.Lock()
		if o.err != nil {
			o.mu.Unlock()
			return total - len(b), errIO
		}
		if room := outputLimit - len(o.buf); room > 0 {
			take := min(room, len(b))
			o.buf = append(o.buf, b[:take]...)
			b = b[take:]
			if !o.started {
				o.started = true
				go o.pump()
			}
		}
		o.mu.Unlock()
		select {
		case o.kick <- struct{}{}:
		default:
		}
		if len(b) == 0 {
			return total, 0
		}
		s.waitRoom(o)
	}
}

// waitRoom blocks until the pump has taken bytes from the queue, or the
// process is killed.
func (s *State) waitRoom(o *output) {
	s.host.Blocking(func() {
		select {
		case <-o.room:
		case <-s.host.KillContext().Done():
		}
	})
	s.host.CheckKilled()
}

// pump writes the queue to the host's writer, in order.
func (o *output) pump() {
	for {
		o.mu.Lock()
		for len(o.buf) == 0 {
			if o.closed {
				o.mu.Unlock()
				close(o.done)
				return
			}
			o.mu.Unlock()
			<-o.kick
			o.mu.Lock()
		}
		data := o.buf
		o.buf, o.spare = o.spare[:0], nil
		failed := o.err != nil
		o.mu.Unlock()
		select {
		case o.room <- struct{}{}:
		default:
		}
		var err error
		if !failed {
			_, err = o.w.Write(data)
		}
		o.mu.Lock()
		if err != nil && o.err == nil {
			o.err = err
		}
		o.spare = data[:0]
		o.mu.Unlock()
	}
}

// close stops the pump once the queue is written, and waits for that
// unless stop is closed first (the process was killed).
func (o *output) close(stop <-chan struct{}) {
	o.mu.Lock()
	o.closed = true
	started := o.started
	o.mu.Unlock()
	if !started {
		return
	}
	select {
	case o.kick <- struct{}{}:
	default:
	}
	select {
	case <-o.done:
	case <-stop:
	}
}

// isTerminal reports whether a standard stream is a terminal; WASI
// programs learn isatty from its file type, character device.
func isTerminal(x any) bool {
	f, ok := x.(*os.File)
	return ok && f != nil && terminal(f)
}
