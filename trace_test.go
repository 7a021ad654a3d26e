package isle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// endSignal is a span processor that signals each span's end, so that a
// test waits for spans instead of sleeping.
type endSignal struct {
	mu   sync.Mutex
	more chan struct{}
}

func newEndSignal() *endSignal { return &endSignal{more: make(chan struct{})} }

func (e *endSignal) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (e *endSignal) Shutdown(context.Context) error                  { return nil }
func (e *endSignal) ForceFlush(context.Context) error                { return nil }
func (e *endSignal) OnEnd(sdktrace.ReadOnlySpan) {
	e.mu.Lock()
	close(e.more)
	e.more = make(chan struct{})
	e.mu.Unlock()
}

// waitSpans waits until exp holds every span named in want, and returns
// the spans by name (the last of each name).
func waitSpans(t *testing.T, ctx context.Context, exp *tracetest.InMemoryExporter, sig *endSignal, want ...string) map[string]tracetest.SpanStub {
	t.Helper()
	for {
		sig.mu.Lock()
		more := sig.more
		sig.mu.Unlock()
		got := map[string]tracetest.SpanStub{}
		for _, s := range exp.GetSpans() {
			got[spanKey(s)] = s
		}
		missing := 0
		for _, name := range want {
			if _, ok := got[name]; !ok {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		select {
		case <-more:
		case <-ctx.Done():
			t.Fatalf("gave up waiting for spans %v; have %v", want, keys(got))
		}
	}
}

// spanKey names a span by its name and, for isle's, the tag it handled.
func spanKey(s tracetest.SpanStub) string {
	for _, a := range s.Attributes {
		if a.Key == attribute.Key("isle.tag") {
			return fmt.Sprintf("%s %d", s.Name, a.Value.AsInt64())
		}
	}
	return s.Name
}

func keys(m map[string]tracetest.SpanStub) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// loadAs loads the C fixture src under name.
func loadAs(t *testing.T, node *isle.Node, name, wasm string) *isle.Module {
	t.Helper()
	bin, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := node.LoadModule(context.Background(), name, bin)
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// A call from the host through three processes, a (reactor) -> b
// (command) -> c (reactor), is one trace: each turn, receive and call is
// a span whose parent is the span that sent its message, under the span
// the host called from.
func TestTraceCallChain(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	exp, sig := tracetest.NewInMemoryExporter(), newEndSignal()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSpanProcessor(sig))
	node, err := isle.NewNode(ctx, isle.Config{CacheDir: testwasm.NodeCache(t), TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(context.Background())
	relay := loadAs(t, node, "relay", reactor(t, "testdata/c/relay.c"))
	relaycmd := loadAs(t, node, "relaycmd", testwasm.C(t, "testdata/c/relaycmd.c", "-O2"))
	c, err := node.Spawn(ctx, relay, isle.Grants{}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := node.Spawn(ctx, relaycmd, isle.Grants{Processes: map[string]*isle.Process{"next": c}}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := node.Spawn(ctx, relay, isle.Grants{Processes: map[string]*isle.Process{"next": b}}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	callCtx, root := tp.Tracer("test").Start(ctx, "test")
	reply, err := a.Call(callCtx, isle.Message{Tag: 1, Data: []byte("go")})
	root.End()
	if err != nil || reply.Tag != 103 {
		t.Fatalf("call: %v, tag %d, want 103", err, reply.Tag)
	}
	// b's receive ends when it asks for its next message, after its reply.
	spans := waitSpans(t, ctx, exp, sig, "test", "call 1", "relay turn 1", "relay call 2",
		"relaycmd receive 2", "relaycmd call 3", "relay turn 3")
	parents := [][2]string{
		{"call 1", "test"},
		{"relay turn 1", "call 1"},
		{"relay call 2", "relay turn 1"},
		{"relaycmd receive 2", "relay call 2"},
		{"relaycmd call 3", "relaycmd receive 2"},
		{"relay turn 3", "relaycmd call 3"},
	}
	tid := spans["test"].SpanContext.TraceID()
	for _, p := range parents {
		child, parent := spans[p[0]], spans[p[1]]
		if child.Parent.SpanID() != parent.SpanContext.SpanID() {
			t.Errorf("%s: parent %s, want %s (%s)", p[0], child.Parent.SpanID(), parent.SpanContext.SpanID(), p[1])
		}
		if child.SpanContext.TraceID() != tid {
			t.Errorf("%s: trace %s, want %s", p[0], child.SpanContext.TraceID(), tid)
		}
	}
	pids := map[string]int64{"relay turn 1": int64(a.ID()), "relaycmd receive 2": int64(b.ID()), "relay turn 3": int64(c.ID())}
	for name, pid := range pids {
		for _, kv := range spans[name].Attributes {
			if kv.Key == "isle.pid" && kv.Value.AsInt64() != pid {
				t.Errorf("%s: pid %d, want %d", name, kv.Value.AsInt64(), pid)
			}
		}
	}
}

// A crash report names the chain of processes and messages that led to
// the crash, and the trace id of the host's span the chain started in,
// even with no tracer on the node.
func TestCrashReportChain(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	var buf syncBuffer
	node, err := isle.NewNode(ctx, isle.Config{CacheDir: testwasm.NodeCache(t), Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close(context.Background()) })
	relay := loadAs(t, node, "relay", reactor(t, "testdata/c/relay.c"))
	relaycmd := loadAs(t, node, "relaycmd", testwasm.C(t, "testdata/c/relaycmd.c", "-O2"))
	child := func(name string, mod *isle.Module, next string) isle.ChildSpec {
		c := isle.ChildSpec{Name: name, Module: mod, Grants: isle.Grants{Init: []byte(next)}}
		if next != "" {
			c.Uses = []string{next}
		}
		return c
	}
	sup, log := supervise(t, node, isle.SupervisorSpec{Name: "top", Children: []isle.ChildSpec{
		child("c", relay, ""), child("b", relaycmd, "c"), child("a", relay, "b")}})
	log.wait(t, ctx, "the start of a", func(l []string) bool { return count(l, "started a") == 1 })
	var pids []uint64
	for _, name := range []string{"a", "b", "c"} {
		p := service(t, sup, name).Current()
		if p == nil {
			t.Fatalf("service %s has no process", name)
		}
		pids = append(pids, p.ID())
	}
	// The host's span, from a provider of the test's own.
	spanCtx, span := sdktrace.NewTracerProvider().Tracer("test").Start(ctx, "test")
	span.End()
	if reply, err := service(t, sup, "a").Call(spanCtx, isle.Message{Tag: 1, Data: []byte("crash")}); err != nil || reply.Tag != 0 {
		t.Fatalf("call through a crash: tag %d, %v; want tag 0 (b's call failed)", reply.Tag, err)
	}
	log.wait(t, ctx, "c's restart", func(l []string) bool { return count(l, "started c") == 2 })
	// The node hands records to its logger from a goroutine of its own.
	testwasm.WaitFor(t, "the crash report in the node's logger", func() bool { return strings.Contains(buf.String(), "crash report") })
	r := crashReport(t, buf.String(), "c")
	want := fmt.Sprintf("host -0x1-> relay[%d] -0x2-> relaycmd[%d] -0x3-> relay[%d]", pids[0], pids[1], pids[2])
	if r["chain"] != want {
		t.Errorf("chain %q, want %q", r["chain"], want)
	}
	if tid := trace.SpanContextFromContext(spanCtx).TraceID().String(); r["trace_id"] != tid {
		t.Errorf("trace_id %v, want the host span's %s", r["trace_id"], tid)
	}
}

// crashReport returns the one crash report about service in a JSON log.
func crashReport(t *testing.T, logs, service string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "crash report" && rec["service"] == service {
			found = append(found, rec)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d crash reports about %s in:\n%s", len(found), service, logs)
	}
	return found[0]
}
