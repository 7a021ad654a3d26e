package kernel

// Causality: every message carries the id of the chain of sends it belongs
// to (Message.Trace, Midori's activity), the last hops of that chain, and,
// when a Tracer is set, the span that sent it.
//
// What a process sends inherits from its *current message*: for a reactor,
// the message its turn handles (or one it took with recv during the turn);
// for a command, the last message recv returned or the last reply a call
// returned. A command's current message changes only then: a recv that
// times out leaves it as it was. With no current message, a process sends
// under an id of its own. A reply carries the id of the request it
// answers, whatever its sender handles meanwhile.

// MaxHops is how many hops of its chain a message carries. With the
// process that handles it, a crash report can name four processes, the
// host's call to a chain of three: enough to see who asked for what,
// bounded so that a message stays a fixed size.
const MaxHops = 3

// Hop is one step of a chain: a process sent a message with this tag.
// PID 0 and a nil Module is the Go host.
type Hop struct {
	PID    uint64
	Module *Module
	Tag    uint32
}

// Chain is the last hops that led to a message, oldest first, and how
// many there were in all (Depth > len(Hops) when the oldest were dropped).
type Chain struct {
	Hops  []Hop
	Depth int
}

// hops is a message's chain, kept inline so that a send allocates nothing.
type hops struct {
	h     [MaxHops]Hop
	depth uint8 // hops in the whole chain, saturating at 255
}

// extend makes m's chain c's followed by one hop of its own.
func (h *hops) extend(c *hops, pid uint64, mod *Module, tag uint32) {
	n := min(int(c.depth), MaxHops)
	if n == MaxHops {
		copy(h.h[:], c.h[1:])
		n--
	} else {
		h.h = c.h
	}
	h.h[n] = Hop{PID: pid, Module: mod, Tag: tag}
	h.depth = c.depth
	if h.depth < 255 {
		h.depth++
	}
}

// chain returns the hops as a Chain.
func (h *hops) chain() Chain {
	n := min(int(h.depth), MaxHops)
	return Chain{Hops: append([]Hop(nil), h.h[:n]...), Depth: int(h.depth)}
}

// noHops is the chain of a message sent outside any message.
var noHops hops

// stamp marks m as sent by p now: it inherits the current message's trace
// and chain, and the open span.
func (p *Process) stamp(m *Message) {
	c := p.current
	if c != nil && c.Trace != 0 {
		m.TraceHi, m.Trace = c.TraceHi, c.Trace
		m.hops.extend(&c.hops, p.ID, p.mod, m.Tag)
	} else {
		if p.ownTrace == 0 {
			p.ownTrace = p.k.newTrace()
		}
		m.TraceHi, m.Trace = 0, p.ownTrace
		m.hops.extend(&noHops, p.ID, p.mod, m.Tag)
	}
	if sp := p.span; sp != nil {
		m.Span, m.SpanFlags = sp.id, sp.flags
	} else {
		m.Span, m.SpanFlags = 0, 0
	}
}

// stampHost marks m as sent by the Go host: a new trace, unless the host
// set one (from its own span).
func (k *Kernel) stampHost(m *Message) {
	if m.Trace == 0 && m.TraceHi == 0 {
		m.Trace = k.newTrace()
	}
	m.hops.extend(&noHops, 0, nil, m.Tag)
}

// newTrace returns a causality id unique on the node. The counter goes
// through a bijective mix, so ids stay unique but look random, as the
// W3C trace context asks of the ids an exporter sends.
func (k *Kernel) newTrace() uint64 {
	x := k.traces.Add(1)
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	if x == 0 {
		return k.newTrace()
	}
	return x
}

// Chain returns the hops that led to m.
func (m *Message) Chain() Chain { return m.hops.chain() }

// SpanKind says what a span stands for.
type SpanKind uint8

// Kinds of span.
const (
	// SpanTurn is a reactor's turn: isle_handle for one message.
	SpanTurn SpanKind = iota + 1
	// SpanReceive is a command handling a message: from the recv that
	// returned it until the command calls recv again or ends.
	SpanReceive
	// SpanCall is a call: from the request until the reply or the error.
	SpanCall
)

// A Tracer makes spans of turns, receives and calls; internal/tracing
// implements it on OpenTelemetry. The kernel calls it only when one is
// set, so with tracing off the hot paths pay a nil check.
type Tracer interface {
	// Start begins a span of kind for process p, about message m: the
	// span's parent is m's Span, in m's trace (a root if m.Span is 0).
	// Safe from any goroutine.
	Start(kind SpanKind, p *Process, m *Message) Span
}

// A Span is an open span.
type Span interface {
	// Context returns the span's trace id (hi and lo), its id and its
	// W3C trace flags: what a message sent under it carries. All zero if
	// the span records nothing and has no id.
	Context() (hi, lo, id uint64, flags uint8)
	// End ends the span; a non-empty failure marks it as failed.
	End(failure string)
}

// openSpan is the span a process's sends descend from.
type openSpan struct {
	s     Span // the open turn or receive span, nil if none
	id    uint64
	flags uint8
}

// adopt makes m travel under span s: s becomes its parent, and its trace
// id is s's (a root span has a new one).
func (m *Message) adopt(s Span) {
	hi, lo, id, flags := s.Context()
	if id == 0 {
		return
	}
	m.TraceHi, m.Trace, m.Span, m.SpanFlags = hi, lo, id, flags
}

// beginSpan opens a span of kind for the current message m.
func (p *Process) beginSpan(kind SpanKind, m *Message) {
	s := p.k.tracer.Start(kind, p, m)
	hi, lo, id, flags := s.Context()
	if p.span == nil { // made once, by a process that is traced
		p.span = new(openSpan)
	}
	*p.span = openSpan{s: s, id: id, flags: flags}
	if id != 0 {
		m.TraceHi, m.Trace = hi, lo // a root span starts a trace of its own
	}
}

// endSpan ends the open span, if any.
func (p *Process) endSpan(failure string) {
	if p.span != nil && p.span.s != nil {
		p.span.s.End(failure)
		*p.span = openSpan{}
	}
}

// startCall opens the span of a call p makes with request m, which then
// travels under it. It returns nil with tracing off.
func (p *Process) startCall(m *Message) Span {
	t := p.k.tracer
	if t == nil {
		return nil
	}
	s := t.Start(SpanCall, p, m)
	m.adopt(s)
	return s
}

// endCall ends a call's span.
func endCall(s Span, err error) {
	if s == nil {
		return
	}
	if err != nil {
		s.End(err.Error())
		return
	}
	s.End("")
}

// CrashCause returns the high half of the trace id of the message the
// process was handling when it ended abnormally, and the chain that led
// to it; ok is as for Crash.
//
// Safe from any goroutine.
func (p *Process) CrashCause() (traceHi uint64, chain Chain, ok bool) {
	if !p.Ended() || p.crash == nil {
		return 0, Chain{}, false
	}
	return p.crash.traceHi, p.crash.chain.chain(), true
}
