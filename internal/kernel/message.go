package kernel

import (
	"encoding/binary"
	"sync"

	isleapi "github.com/isle-run/isle/api"
)

// System tags: user tags are below TagSystem.
const (
	TagSystem uint32 = 0xFFFF0000
	TagExit   uint32 = 0xFFFF0001 // a linked process ended; aux is the receiver's handle to it
	TagDown   uint32 = 0xFFFF0002 // a monitored process ended; aux is the monitor ref
	TagInit   uint32 = 0xFFFF0003 // the first message of a spawned process
	// TagShutdown asks a process to end: its supervisor is stopping it,
	// and kills it if it has not ended within its shutdown timeout.
	TagShutdown uint32 = 0xFFFF0004
)

// Limits on messages.
const (
	// DefaultMaxMessage is the largest payload a message may carry.
	DefaultMaxMessage = 1 << 20
	// MaxMessageHandles is the most handles one message may carry.
	MaxMessageHandles = 16
	// DefaultMailbox is how many messages a mailbox holds before senders
	// wait or get ErrFull.
	DefaultMailbox = 1024
)

// Message is one message in flight. The kernel owns it until it is
// delivered, and the receiver owns it after.
type Message struct {
	Tag  uint32
	Data []byte
	// small holds a small payload inline, beside the header the receiver
	// reads anyway: Data points into it unless the payload outgrew it.
	small [smallData]byte
	// Trace is the causality id the message carries, Midori's activity:
	// a message sent while a process handles another inherits its id, and
	// so does a reply, so a chain of sends across processes shares one id.
	// The host starts a new one for each message it sends, unless it
	// sends under a span of its own. See trace.go.
	Trace uint64
	// TraceHi is the high half of an OpenTelemetry trace id the chain
	// belongs to, zero for the node's own ids.
	TraceHi uint64
	// Span is the span the message was sent under, the parent of the
	// span of its turn; zero when nothing traces. SpanFlags are its W3C
	// trace flags (bit 0: sampled).
	Span      uint64
	SpanFlags uint8
	// hops is the end of the chain that led to the message.
	hops hops
	// Caps travel with the message and are installed in the receiver's
	// handle table on delivery.
	Caps []Cap
	// reply, for a request, is the slot the answer goes to. On delivery it
	// becomes a reply handle in the receiver's table, passed as aux.
	reply *replySlot
	// from, for an exit signal, is the process or service that ended; the
	// receiver's handle to it (if any) is passed as aux.
	from Target
	// ref, for a down message, is the monitor reference, passed as aux.
	ref uint32
	// hold is the reservation the message fills; it is released when the
	// message is queued.
	hold *Reservation
}

// Hold makes m the message that fills r: queuing it releases r in the
// same step, so the bytes are never counted twice or not at all.
func (m *Message) Hold(r *Reservation) { m.hold = r }

// msgPool recycles messages: at millions of messages a second, allocating
// each (and its payload) was a fifth of a round trip between reactors.
var msgPool = sync.Pool{New: func() any { return newInline() }}

// smallData is how many payload bytes a message holds inline.
const smallData = 16

// newInline returns a new message whose payload buffer is its own
// inline array.
func newInline() *Message {
	m := new(Message)
	m.Data = m.small[:0]
	return m
}

// TakeData returns m's payload for the caller to keep and detaches it
// from m, which may then be recycled: an inline payload is copied out.
func (m *Message) TakeData() []byte {
	d := m.Data
	if cap(d) > 0 && &d[:1][0] == &m.small[0] {
		d = append([]byte(nil), d...)
	}
	m.Data = nil
	return d
}

// maxPooledData bounds the payload buffer a recycled message keeps.
const maxPooledData = 64 << 10

// NewMessage returns a message carrying a copy of data, from the pool.
func NewMessage(tag uint32, data []byte) *Message {
	m := msgPool.Get().(*Message)
	m.Tag = tag
	m.Data = append(m.Data[:0], data...)
	return m
}

// recycle returns a message nobody refers to any more to the pool.
func (m *Message) recycle() {
	m.reset()
	msgPool.Put(m)
}

// reset clears m for reuse, keeping its buffers.
func (m *Message) reset() {
	data, caps := m.Data[:0], m.Caps[:0]
	if cap(data) > maxPooledData {
		data = nil
	}
	clear(caps[:cap(caps)])
	*m = Message{Data: data, Caps: caps}
}

// Discard drops what a message nobody will deliver holds, and recycles it.
// Precondition: the caller owns m, and nothing refers to it after.
func (m *Message) Discard() {
	m.release()
	m.recycle()
}

// DropRefs gives up the copies of capabilities a message that was never
// sent counted (Cap.DropRef): their handles are still the sender's.
func (m *Message) DropRefs() {
	for _, c := range m.Caps {
		c.DropRef()
	}
}

// dropRefs is m.DropRefs for an optional message.
func dropRefs(m *Message) {
	if m != nil {
		m.DropRefs()
	}
}

// release drops what an undelivered message holds.
func (m *Message) release() {
	for _, c := range m.Caps {
		c.release()
	}
	m.Caps = m.Caps[:0]
	if m.reply != nil {
		m.reply.abandon()
		m.reply = nil
	}
}

// exitPayload encodes an exit reason as the ABI's struct isle_exit.
func exitPayload(e isleapi.Exit, noproc bool) []byte {
	kind, code, cause := uint32(e.Kind), e.Code, uint32(0)
	text := e.String()
	if noproc {
		kind, text = 4, "noproc"
	}
	if e.Abandon != nil {
		cause = uint32(e.Abandon.Cause)
	}
	b := make([]byte, 16+len(text))
	binary.LittleEndian.PutUint32(b[0:], kind)
	binary.LittleEndian.PutUint32(b[4:], code)
	binary.LittleEndian.PutUint32(b[8:], cause)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(text)))
	copy(b[16:], text)
	return b
}

// replySlot is the rendezvous of one call: the caller waits on done, and
// whoever holds the reply handle fills it once.
type replySlot struct {
	mu    sync.Mutex
	state uint8 // slotWaiting, slotAnswered, slotGone
	msg   *Message
	done  chan struct{} // closed when state leaves slotWaiting
	// traceHi and trace are the request's causality id, which the reply
	// carries. Set before the request is queued, read-only after.
	traceHi, trace uint64
	// notify, if set, runs once the state leaves slotWaiting, outside mu:
	// a call from another node learns its answer so (see Reply.Notify).
	notify func(*Message)
	// fail, if set, is the error a call with no answer fails with, in
	// place of ErrGone: the owner of a remote target refused it.
	fail error
}

const (
	slotWaiting uint8 = iota
	slotAnswered
	slotGone // the holder gave up, or the caller did
)

func newReplySlot() *replySlot { return &replySlot{done: make(chan struct{})} }

// answer delivers the reply. It reports false if the caller has gone.
func (r *replySlot) answer(m *Message) bool {
	r.mu.Lock()
	if r.state != slotWaiting {
		r.mu.Unlock()
		return false
	}
	r.state, r.msg = slotAnswered, m
	close(r.done)
	f := r.notify
	r.mu.Unlock()
	if f != nil {
		f(m)
	}
	return true
}

// abandon ends the call without an answer: the caller gets ErrGone.
func (r *replySlot) abandon() { r.failWith(nil) }

// failWith ends the call without an answer: the caller gets err, or
// ErrGone if err is nil.
func (r *replySlot) failWith(err error) {
	r.mu.Lock()
	if r.state != slotWaiting {
		r.mu.Unlock()
		return
	}
	r.state, r.fail = slotGone, err
	close(r.done)
	f := r.notify
	r.mu.Unlock()
	if f != nil {
		f(nil)
	}
}

// failure returns the error a call with no answer fails with, if not
// ErrGone.
func (r *replySlot) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fail
}

// result returns the reply, or nil if there will be none.
func (r *replySlot) result() *Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msg
}
