package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/isle-run/isle/internal/testwasm"
)

// otlpReceiver is an OTLP/HTTP trace receiver on loopback: it decodes
// each export request and keeps its spans.
type otlpReceiver struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	service []string // service.name of each resource
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	var export collector.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &export)
	}
	if req.URL.Path != "/v1/traces" || err != nil {
		http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range export.ResourceSpans {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				r.service = append(r.service, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&collector.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// spanTag is the isle.tag attribute of a span, or -1.
func spanTag(s *tracepb.Span) int64 {
	for _, kv := range s.Attributes {
		if kv.Key == "isle.tag" {
			return kv.GetValue().GetIntValue()
		}
	}
	return -1
}

// isle run with OTEL_EXPORTER_OTLP_ENDPOINT set exports the spans of a
// call chain main -> a -> b -> c to that endpoint, with the right parent
// links, before it exits.
func TestRunExportsTraces(t *testing.T) {
	dir := t.TempDir()
	for name, wasm := range map[string]string{
		"relay":     testwasm.C(t, "testdata/c/relay.c", "-O2", "-mexec-model=reactor"),
		"relaycmd":  testwasm.C(t, "testdata/c/relaycmd.c", "-O2"),
		"chainmain": testwasm.C(t, "testdata/c/chainmain.c", "-O2"),
	} {
		bin, err := os.ReadFile(wasm)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".wasm"), bin, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	recv := &otlpReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	ctx := testwasm.Context(t)
	cmd := exec.CommandContext(ctx, isleBin, "run",
		"--spawn", "relay="+filepath.Join(dir, "relay.wasm"), "--spawn", "relaycmd="+filepath.Join(dir, "relaycmd.wasm"),
		filepath.Join(dir, "chainmain.wasm"))
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome(t), "OTEL_TRACES_EXPORTER=",
		"OTEL_EXPORTER_OTLP_ENDPOINT="+srv.URL, "OTEL_SERVICE_NAME=chain-test", "OTEL_TRACES_SAMPLER=always_on")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || strings.TrimSpace(stdout.String()) != "answer 103" {
		t.Fatalf("isle run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	byName := map[string]*tracepb.Span{}
	var names []string
	for _, s := range recv.spans {
		key := fmt.Sprintf("%s %d", s.Name, spanTag(s))
		byName[key] = s
		names = append(names, key)
	}
	parents := [][2]string{
		{"relay.wasm turn 1", "chainmain.wasm call 1"},
		{"relay.wasm call 2", "relay.wasm turn 1"},
		{"relaycmd.wasm receive 2", "relay.wasm call 2"},
		{"relaycmd.wasm call 3", "relaycmd.wasm receive 2"},
		{"relay.wasm turn 3", "relaycmd.wasm call 3"},
	}
	for _, p := range parents {
		child, parent := byName[p[0]], byName[p[1]]
		if child == nil || parent == nil {
			t.Fatalf("no span %q or %q in %q", p[0], p[1], names)
		}
		if !bytes.Equal(child.ParentSpanId, parent.SpanId) || !bytes.Equal(child.TraceId, parent.TraceId) {
			t.Errorf("%s: parent %x in trace %x, want %s: %x in %x", p[0], child.ParentSpanId, child.TraceId,
				p[1], parent.SpanId, parent.TraceId)
		}
	}
	if len(recv.service) == 0 || recv.service[0] != "chain-test" {
		t.Errorf("service.name %q, want chain-test", recv.service)
	}
}
