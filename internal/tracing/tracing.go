// Package tracing turns the kernel's causality into OpenTelemetry spans:
// a reactor's turn, a command's handling of a received message and a call
// are each a span, whose parent is the span that sent the message. It
// also reads the standard OTEL_* environment variables into a
// TracerProvider for the isle command (see FromEnv).
package tracing

import (
	"context"
	"encoding/binary"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/isle-run/isle/internal/kernel"
)

// scope is the instrumentation scope of isle's spans.
const scope = "github.com/isle-run/isle"

// Tracer implements kernel.Tracer on an OpenTelemetry TracerProvider.
type Tracer struct {
	t trace.Tracer
}

// New returns a Tracer making spans with tp, or nil if tp is nil.
func New(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		return nil
	}
	return &Tracer{t: tp.Tracer(scope)}
}

// Attribute keys of isle's spans.
const (
	keyPID    = attribute.Key("isle.pid")
	keyModule = attribute.Key("isle.module")
	keyTag    = attribute.Key("isle.tag")
)

// Start implements kernel.Tracer.
func (t *Tracer) Start(kind kernel.SpanKind, p *kernel.Process, m *kernel.Message) kernel.Span {
	ctx := context.Background()
	if m.Span != 0 {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parentOf(m))
	}
	mod := p.Module().Name
	name, sk := mod+" turn", trace.SpanKindConsumer
	switch kind {
	case kernel.SpanReceive:
		name = mod + " receive"
	case kernel.SpanCall:
		name, sk = mod+" call", trace.SpanKindClient
	}
	_, s := t.t.Start(ctx, name, trace.WithSpanKind(sk), trace.WithAttributes(
		keyPID.Int64(int64(p.ID)), keyModule.String(mod), keyTag.Int64(int64(m.Tag))))
	return span{s}
}

// parentOf is the span context a message was sent under.
func parentOf(m *kernel.Message) trace.SpanContext {
	var tid trace.TraceID
	var sid trace.SpanID
	binary.BigEndian.PutUint64(tid[:8], m.TraceHi)
	binary.BigEndian.PutUint64(tid[8:], m.Trace)
	binary.BigEndian.PutUint64(sid[:], m.Span)
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid,
		TraceFlags: trace.TraceFlags(m.SpanFlags), Remote: true})
}

// span implements kernel.Span.
type span struct{ s trace.Span }

// Context implements kernel.Span.
func (s span) Context() (hi, lo, id uint64, flags uint8) {
	sc := s.s.SpanContext()
	if !sc.IsValid() {
		return 0, 0, 0, 0
	}
	return split(sc)
}

// split returns a span context's ids and flags as a message carries them.
func split(sc trace.SpanContext) (hi, lo, id uint64, flags uint8) {
	tid, sid := sc.TraceID(), sc.SpanID()
	return binary.BigEndian.Uint64(tid[:8]), binary.BigEndian.Uint64(tid[8:]),
		binary.BigEndian.Uint64(sid[:]), uint8(sc.TraceFlags())
}

// End implements kernel.Span.
func (s span) End(failure string) {
	if failure != "" {
		s.s.SetStatus(codes.Error, failure)
	}
	s.s.End()
}

// Host stamps m, which the Go host sends under ctx, with its cause: a new
// span of t named name when t is set (a child of ctx's span, if any),
// else ctx's own span if it has one. It returns what ends that span,
// given the outcome of the send or call.
func Host(ctx context.Context, t *Tracer, name string, call bool, m *kernel.Message) (end func(error)) {
	if t == nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			m.TraceHi, m.Trace, m.Span, m.SpanFlags = split(sc)
		}
		return noEnd
	}
	sk := trace.SpanKindProducer
	if call {
		sk = trace.SpanKindClient
	}
	_, s := t.t.Start(ctx, name, trace.WithSpanKind(sk), trace.WithAttributes(keyTag.Int64(int64(m.Tag))))
	if sc := s.SpanContext(); sc.IsValid() {
		m.TraceHi, m.Trace, m.Span, m.SpanFlags = split(sc)
	}
	return func(err error) {
		if err != nil {
			s.SetStatus(codes.Error, err.Error())
		}
		s.End()
	}
}

func noEnd(error) {}
