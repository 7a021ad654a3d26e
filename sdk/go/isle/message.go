package isle

import (
	"context"
	"sync"
	"unsafe"
)

// Message is one message this process received, or the reply to a Call.
// It owns its Data and Handles: the kernel copied them, so nothing the
// sender does later can change them.
type Message struct {
	// Tag is the message's kind, chosen by its sender. Tags at or above
	// TagSystem come from the kernel: TagExit, TagDown, TagInit.
	Tag uint32
	// Data is the payload. It is nil when the payload is empty.
	Data []byte
	// Handles are the handles the message brought, already in this
	// process's table and in its numbering.
	Handles []Handle

	aux   uint32
	reply *replyRight // set for a request: see Reply
}

// replyRight is a request's one-shot reply handle, shared by every copy
// of the Message so that a second Reply is an error, not misuse.
type replyRight struct {
	h    uint32
	used bool
}

// IsRequest reports whether m is a request (sent with Call) that has not
// been answered yet. Answer it with Reply, or refuse it with Decline:
// its caller waits until then, or until its deadline.
func (m Message) IsRequest() bool { return m.reply != nil && !m.reply.used }

// Reply answers the request m with tag (below TagSystem) and a copy of
// data. It fails with ErrGone if the caller has given up, and with
// ErrNotRequest if m is not a request or was answered already. A reply
// over MaxMessage fails with ErrTooBig and leaves the request unanswered,
// to be answered again. Handles sent WithHandles are moved, never copied.
func (m Message) Reply(tag uint32, data []byte, opts ...SendOption) error {
	c := sendConfig(opts)
	if c.flags&sendCopy != 0 {
		panic("isle: Reply moves its handles; CopyHandles cannot be used with it")
	}
	if !m.IsRequest() {
		return ErrNotRequest
	}
	d, n := bytesPtr(data)
	hs, nh := handlesPtr(c.handles)
	r := abiReply(m.reply.h, tag, d, n, hs, nh)
	// The kernel consumes the reply handle unless it refused the payload
	// before looking at it.
	m.reply.used = Errno(r) != ErrTooBig
	return errno(r)
}

// Decline drops the request m unanswered: its caller fails with ErrGone
// at once instead of waiting for its deadline.
func (m Message) Decline() error {
	if !m.IsRequest() {
		return ErrNotRequest
	}
	m.reply.used = true
	return Close(Handle(m.reply.h))
}

// Release hands m.Data back to this package, for a later message to
// reuse instead of allocating: a handler that releases each message it is
// done with allocates nothing per message, and causes no garbage
// collection. It is optional; without it the garbage collector frees
// the payload as usual. After Release, m.Data must not be used, through
// m or any copy of it.
func (m *Message) Release() {
	if cap(m.Data) == 0 {
		return
	}
	mu.Lock()
	if cap(m.Data) > cap(spare) {
		spare = m.Data[:0]
	}
	mu.Unlock()
	m.Data = nil
}

// IsInit reports whether m is the init message Spawn sends first.
func (m Message) IsInit() bool { return m.Tag == TagInit }

// IsExit reports whether m is an exit signal from a linked process,
// delivered because this process traps exits.
func (m Message) IsExit() bool { return m.Tag == TagExit }

// IsDown reports whether m tells a monitor that its target ended.
func (m Message) IsDown() bool { return m.Tag == TagDown }

// ExitReason decodes why the process ended, for a TagExit or TagDown
// message. ok is false for any other message.
func (m Message) ExitReason() (r ExitReason, ok bool) {
	if m.Tag != TagExit && m.Tag != TagDown {
		return ExitReason{}, false
	}
	return DecodeExitReason(m.Data)
}

// From returns, for a TagExit message, this process's handle to the linked
// process that ended; it is the zero Process if this process holds no
// handle to it.
func (m Message) From() Process {
	if m.Tag != TagExit {
		return Process{}
	}
	return Process{Handle(m.aux)}
}

// Ref returns, for a TagDown message, the ref Monitor returned; 0 for any
// other message.
func (m Message) Ref() Ref {
	if m.Tag != TagDown {
		return 0
	}
	return Ref(m.aux)
}

// Receive takes the first message in the mailbox that matches, waiting
// until ctx's deadline (for ever if it has none); a deadline already past
// still takes a message that is ready. With no Match it takes the oldest
// message; with one, the oldest whose tag matches, leaving the others in
// place (selective receive). At most one Match may be given. It returns
// ErrTimeout if nothing matched in time.
//
// Every goroutine of the process waits while Receive blocks: wasm has one
// thread.
func Receive(ctx context.Context, match ...Match) (Message, error) {
	t, err := timeoutOf(ctx)
	if err != nil {
		return Message{}, err
	}
	return receive(oneMatch(match), t)
}

// TryReceive is Receive without waiting: it returns ErrTimeout at once if
// no message matches.
func TryReceive(match ...Match) (Message, error) { return receive(oneMatch(match), 0) }

func oneMatch(match []Match) Match {
	switch len(match) {
	case 0:
		return Match{}
	case 1:
		return match[0]
	}
	panic("isle: Receive takes at most one Match")
}

func receive(mt Match, timeout int64) (Message, error) {
	mu.Lock()
	defer mu.Unlock()
	var in info
	r := abiRecv(scratchPtr(), scratchSize, mt.Tag, mt.Mask, timeout, &in)
	return current(r, &in)
}

// The payload of a received message lands in scratch first, so a small
// message costs one host call and one exact-size copy; a bigger one is
// read past scratch straight into its own buffer with msg_read. mu keeps other
// goroutines off scratch and off the kernel's current message between the
// calls that read one message (a goroutine can be parked by the garbage
// collector in the middle).
const scratchSize = 1 << 10

var (
	mu      sync.Mutex
	scratch [scratchSize]byte
)

func scratchPtr() unsafe.Pointer { return unsafe.Pointer(&scratch[0]) }

// spare is a released payload buffer, the largest one released since it
// was last used. Guarded by mu.
var spare []byte

// alloc returns a buffer of n bytes for a payload: spare if it is big
// enough, else a new one. Its content is about to be overwritten, so it is
// not cleared. Called with mu held.
func alloc(n uint32) []byte {
	if uint32(cap(spare)) >= n {
		b := spare[:n]
		spare = nil
		return b
	}
	return make([]byte, n)
}

// current builds a Message from the result r of recv or call, whose
// payload prefix is in scratch: a payload longer than scratch comes back
// as ETOOBIG with in.len set, and the rest is read with msg_read. Called
// with mu held.
func current(r int32, in *info) (Message, error) {
	if r < 0 && !(Errno(r) == ErrTooBig && in.len > scratchSize) {
		return Message{}, Errno(r)
	}
	m := Message{Tag: in.tag, aux: in.aux}
	if in.len > 0 {
		m.Data = alloc(in.len)
		k := copy(m.Data, scratch[:min(in.len, scratchSize)])
		readRest(m.Data, k)
	}
	m.Handles = currentHandles(in.nhandles)
	m.setReply()
	return m, nil
}

// readRest copies the current message's payload from offset k on.
func readRest(dst []byte, k int) {
	for k < len(dst) {
		p, n := bytesPtr(dst[k:])
		got := abiMsgRead(uint32(k), p, n)
		if got <= 0 {
			panic("isle: msg_read returned no data") // the kernel said the payload was longer
		}
		k += int(got)
	}
}

// currentHandles reads the current message's handles.
func currentHandles(n uint32) []Handle {
	if n == 0 {
		return nil
	}
	hs := make([]Handle, n)
	p, c := handlesPtr(hs)
	abiMsgHandles(p, c)
	return hs
}

// setReply turns a request's aux into its reply right.
func (m *Message) setReply() {
	if m.Tag < TagSystem && m.aux != 0 {
		m.reply = &replyRight{h: m.aux}
	}
}
