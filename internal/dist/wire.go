package dist

import (
	"encoding/binary"
	"errors"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
)

// The wire format. A batch is one transport message from one node to
// another: a header, then frames, each a type byte and its fields. Numbers
// are unsigned varints, strings and byte strings a varint length and the
// bytes. One writer per pair of nodes keeps frames in the order they were
// queued, and the transport keeps batches in order (see package doc).
const wireVersion = 2

// Frame types.
const (
	fSend        byte = iota + 1 // export, msg: a send to an exported target
	fCall                        // export, call, msg: a call to one
	fReply                       // call, msg: the answer to a call
	fFail                        // call, code: a call that will get no answer
	fEnded                       // export, exit: an exported target ended
	fRevoked                     // export: an export was revoked
	fLinkExit                    // export, exit: a process linked to it ended
	fKill                        // export, reason: kill the exported target
	fCredit                      // frames, bytes: room freed in the receiver
	fLookup                      // request, name: ask for a published service
	fGrant                       // request, code, kind, rights, export: the answer
	fRelease                     // export, count: the holder let go of the export, received count times
	fLink                        // export: a process here links to it
	fUnlink                      // export: the last link to it here is gone
	fSpawn                       // request, export, name, msg: start a process with a spawner
	fSpawned                     // request, code, export: the process it started
	fSpawnCancel                 // request: the caller gave up on a spawn
)

// Failure codes of fFail and fGrant.
const (
	codeOK      = 0
	codeGone    = 1 // no such target, or it ended
	codeRevoked = 2
	codeRights  = 3
	codeFull    = 4
	codeTooBig  = 5
	codeRefused = 6 // the owner does not publish that name to the asker
	codeNoMatch = 7 // no such module in the spawner
)

// errShort is a batch that ends inside a frame: the peer is broken.
var errShort = errors.New("dist: truncated frame")

// capRef is a capability on the wire: a kind, rights, and the export
// that backs it, on the node that owns it. An empty owner is the sender.
type capRef struct {
	kind   capkind.Kind
	rights isleapi.Rights
	owner  string
	export uint64
}

// wireMsg is a message on the wire.
type wireMsg struct {
	tag            uint32
	traceHi, trace uint64
	span           uint64
	spanFlags      uint8
	data           []byte
	caps           []capRef
}

// size bounds the bytes of m's frame, its header included.
func (m *wireMsg) size() int {
	n := 40 + len(m.data)
	for _, c := range m.caps {
		n += 24 + len(c.owner)
	}
	return n
}

func putUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func putBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func putString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func putMsg(b []byte, m *wireMsg) []byte {
	b = putUvarint(b, uint64(m.tag))
	b = putUvarint(b, m.traceHi)
	b = putUvarint(b, m.trace)
	b = putUvarint(b, m.span)
	b = append(b, m.spanFlags)
	b = putBytes(b, m.data)
	b = putUvarint(b, uint64(len(m.caps)))
	for _, c := range m.caps {
		b = putUvarint(b, uint64(c.kind))
		b = putUvarint(b, uint64(c.rights))
		b = putString(b, c.owner)
		b = putUvarint(b, c.export)
	}
	return b
}

// putExit encodes an exit: kind, code, cause, and its words (the kill
// reason, or the abandonment's detail). Frames stay on the owner.
func putExit(b []byte, e isleapi.Exit) []byte {
	b = append(b, byte(e.Kind))
	b = putUvarint(b, uint64(e.Code))
	var cause isleapi.Cause
	text := e.Killed
	if e.Abandon != nil {
		cause, text = e.Abandon.Cause, e.Abandon.Detail
	}
	b = append(b, byte(cause))
	return putString(b, text)
}

// reader decodes one batch. The first error sticks, and every later read
// returns zero values, so a decoder checks once per frame.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errShort
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if uint64(len(r.b)) < n {
		r.fail()
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) msg(m *wireMsg) {
	m.tag = uint32(r.uvarint())
	m.traceHi = r.uvarint()
	m.trace = r.uvarint()
	m.span = r.uvarint()
	m.spanFlags = r.byte()
	m.data = r.bytes()
	n := r.uvarint()
	if n > maxCaps {
		r.fail()
		return
	}
	m.caps = m.caps[:0]
	for range n {
		m.caps = append(m.caps, capRef{
			kind:   capkind.Kind(r.uvarint()),
			rights: isleapi.Rights(r.uvarint()),
			owner:  r.string(),
			export: r.uvarint(),
		})
	}
}

func (r *reader) exit() isleapi.Exit {
	e := isleapi.Exit{Kind: isleapi.ExitKind(r.byte()), Code: uint32(r.uvarint())}
	cause := isleapi.Cause(r.byte())
	text := r.string()
	switch e.Kind {
	case isleapi.ExitAbandoned:
		e.Abandon = &isleapi.Abandonment{Cause: cause, Detail: text}
	case isleapi.ExitKilled, isleapi.ExitNoConnection:
		e.Killed = text
	}
	return e
}

// SendBatch encodes a batch of one send of a message without handles,
// tagged tag, to export: what a member sends to use that export. Tests of
// a transport's authentication forge batches with it.
func SendBatch(export uint64, tag uint32, data []byte) []byte {
	w := wireMsg{tag: tag, data: data}
	return putMsg(putUvarint([]byte{wireVersion, fSend}, export), &w)
}

// ReleaseBatch encodes a batch of n releases of export, each for one
// arrival: what a member sends as its holders let go of it, n times over.
// Tests of a hostile member flood with it.
func ReleaseBatch(export uint64, n int) []byte {
	b := []byte{wireVersion}
	for range n {
		b = putUvarint(putUvarint(append(b, fRelease), export), 1)
	}
	return b
}
