package tracing

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func envOf(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// Tracing is off unless an exporter or an OTLP endpoint is named, and a
// setting isle cannot honour is an error naming the variable.
func TestFromEnv(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		vars map[string]string
		on   bool
		err  string
	}{
		{"nothing set", nil, false, ""},
		{"unrelated OTEL_SERVICE_NAME", map[string]string{"OTEL_SERVICE_NAME": "x"}, false, ""},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, true, ""},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/v1/traces"}, true, ""},
		{"otlp", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, ""},
		{"console", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true, ""},
		{"none beats endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, false, ""},
		{"disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false, ""},
		{"unknown exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, "OTEL_TRACES_EXPORTER=zipkin"},
		{"grpc", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := FromEnv(ctx, envOf(c.vars), io.Discard)
			if c.err != "" {
				if !errors.Is(err, ErrEnv) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want ErrEnv naming %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (p != nil) != c.on {
				t.Fatalf("on = %v, want %v", p != nil, c.on)
			}
			if p != nil {
				if err := p.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
