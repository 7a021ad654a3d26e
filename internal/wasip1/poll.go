package wasip1

import (
	"math"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// sub is one parsed subscription.
type sub struct {
	userdata uint64
	tag      uint8
	clock    uint32
	timeout  uint64
	flags    uint16
	fd       uint32
}

// pollOneoff waits until at least one subscription is ready and reports
// every one that is. Clocks fire at their deadline; stdin is ready when a
// read would not block (the read it starts to learn that keeps its
// bytes); stdout and stderr are ready while their queue has room; files
// are always ready. A subscription that cannot be served (a closed
// descriptor, a direction the descriptor cannot go, a missing right, an
// unknown clock) is ready at once with its error in the event, as the
// specification's event.error describes. With a virtual clock, time jumps
// to the first deadline instead of passing. A kill ends the wait.
func pollOneoff(s *State, mem api.Memory, st []uint64) Errno {
	in, out, n := uint32(st[0]), uint32(st[1]), uint32(st[2])
	if n == 0 {
		return errInval // it would wait for ever, as in wasmtime
	}
	if uint64(n)*sizeSubscription > math.MaxUint32 {
		return errFault
	}
	// Both arrays are used in place, so a guest asking for millions of
	// subscriptions costs the host no memory.
	raw, errno := read(mem, in, n*sizeSubscription)
	if errno != 0 {
		return errno
	}
	evs, errno := read(mem, out, n*sizeEvent)
	if errno != 0 {
		return errno
	}
	start := time.Now()
	var elapsed int64 // real time since start, or virtual time skipped
	for {
		count, minWait := s.pollPass(raw, evs, elapsed)
		if count > 0 {
			return putU32(mem, uint32(st[3]), uint32(count))
		}
		if s.clock.Virtual() && minWait != math.MaxInt64 {
			// Nothing is ready and time only passes when the guest waits:
			// jump to the first deadline and report what it fires.
			s.clock.Advance(minWait)
			elapsed += minWait
			continue
		}
		s.waitAny(raw, minWait)
		if !s.clock.Virtual() {
			elapsed = int64(time.Since(start))
		}
	}
}

// subAt parses subscription i.
func subAt(raw []byte, i int) sub {
	b := raw[i*sizeSubscription:]
	return sub{userdata: le64(b), tag: b[8], clock: le32(b[16:]), timeout: le64(b[24:]),
		flags: uint16(b[40]) | uint16(b[41])<<8, fd: le32(b[16:])}
}

// pollSubFuel is the fuel of looking at one subscription, charged at
// every pass (ChargeWork): about what the guest's own code would spend
// in the time it takes. Each pass is also a point where a kill lands,
// every pollKillEvery subscriptions: a guest asking for the 52,428 that
// 4 MiB of zeroes reads as spent 15.7 ms a call charged 7 fuel, and its
// kill waited for 140,000 such calls (found in review).
const (
	pollSubFuel   = 1 << 12
	pollKillEvery = 1 << 10
)

// pollPass looks at every subscription once, writes an event for each one
// that is ready, and returns how many it wrote and how long the nearest
// clock still has to wait.
func (s *State) pollPass(raw, evs []byte, elapsed int64) (count int, minWait int64) {
	minWait = math.MaxInt64
	n := len(raw) / sizeSubscription
	s.host.ChargeWork(int64(n) * pollSubFuel)
	s.host.CheckFuel()
	for i := range n {
		if i%pollKillEvery == pollKillEvery-1 {
			s.host.CheckKilled()
		}
		c := subAt(raw, i)
		wait := s.clockWait(&c, elapsed)
		ready, errno, nbytes, flags := s.ready(&c, wait)
		if c.tag == eventClock && errno == 0 && !ready {
			minWait = min(minWait, wait)
		}
		if ready || errno != 0 {
			putEvent(evs[count*sizeEvent:], &c, errno, nbytes, flags)
			count++
		}
	}
	return count, minWait
}

// clockWait is how long a clock subscription still waits: a relative
// timeout counts from the call, less elapsed; an absolute one from the
// clock's reading now. Other subscriptions, and invalid clocks (which
// ready reports), return 0.
func (s *State) clockWait(c *sub, elapsed int64) int64 {
	if c.tag != eventClock || (c.clock != clockRealtime && c.clock != clockMonotonic) {
		return 0
	}
	t := int64(min(c.timeout, math.MaxInt64))
	if c.flags&subclockAbstime != 0 {
		return t - s.clock.Now(c.clock)
	}
	return t - elapsed
}

// ready evaluates one subscription now; wait is what remains of a
// clock's.
func (s *State) ready(c *sub, wait int64) (ready bool, errno Errno, nbytes uint64, flags uint16) {
	switch c.tag {
	case eventClock:
		if c.clock != clockRealtime && c.clock != clockMonotonic {
			return false, errInval, 0, 0
		}
		return wait <= 0, 0, 0, 0
	case eventFdRead, eventFdWrite:
	default:
		return false, errInval, 0, 0
	}
	e, errno := s.get(c.fd)
	if errno != 0 {
		return false, errno, 0, 0
	}
	if errno := e.need(rightPollFdReadwrite); errno != 0 {
		return false, errno, 0, 0
	}
	switch {
	case c.tag == eventFdRead && e.kind == kindStdin:
		if !e.in.ready() {
			return false, 0, 0, 0
		}
		if e.in != nil && len(e.in.buf) == 0 {
			return true, 0, 0, 1 // end of input: hang-up
		}
		if e.in == nil {
			return true, 0, 0, 1
		}
		return true, 0, uint64(len(e.in.buf)), 0
	case c.tag == eventFdWrite && e.kind == kindStdout:
		if e.out == nil {
			return true, 0, outputLimit, 0
		}
		room := e.out.space()
		return room > 0, 0, uint64(max(room, 0)), 0
	case c.tag == eventFdRead && e.kind == kindFile && e.read:
		return true, 0, e.unread(), 0
	case c.tag == eventFdWrite && e.kind == kindFile && e.write:
		return true, 0, 0, 0
	}
	return false, errBadf, 0, 0
}

// unread is how many bytes lie between a file's offset and its end.
func (e *entry) unread() uint64 {
	st, serr := e.file.Stat()
	pos, perr := e.file.Seek(0, 1)
	if serr != 0 || perr != 0 || st.Size < pos {
		return 0
	}
	return uint64(st.Size - pos)
}

func putEvent(b []byte, c *sub, errno Errno, nbytes uint64, flags uint16) {
	clear(b[:sizeEvent])
	put64(b, c.userdata)
	put16(b[8:], uint16(errno))
	b[10] = c.tag
	if c.tag != eventClock {
		put64(b[16:], nbytes)
		put16(b[24:], flags)
	}
}

// waitAny blocks until something a subscription waits on may have
// happened: input arrived, an output queue drained, the first deadline
// passed, or the process was killed.
func (s *State) waitAny(raw []byte, wait int64) {
	var stdin <-chan struct{}
	var rooms [2]<-chan struct{}
	for i := range len(raw) / sizeSubscription {
		c := subAt(raw, i)
		if c.tag == eventClock {
			continue
		}
		e, errno := s.get(c.fd)
		if errno != 0 {
			continue
		}
		switch {
		case e.kind == kindStdin && e.in != nil && e.in.r != nil:
			stdin = e.in.start()
		case e.kind == kindStdout && e.out != nil:
			if rooms[0] == nil || rooms[0] == e.out.room {
				rooms[0] = e.out.room
			} else {
				rooms[1] = e.out.room
			}
		}
	}
	var timeout <-chan time.Time
	if wait != math.MaxInt64 {
		t := time.NewTimer(time.Duration(wait))
		defer t.Stop()
		timeout = t.C
	}
	s.host.Blocking(func() {
		select {
		case <-stdin:
		case <-rooms[0]:
		case <-rooms[1]:
		case <-timeout:
		case <-s.host.KillContext().Done():
		}
	})
	s.host.CheckKilled()
}
