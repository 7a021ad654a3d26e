package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ErrEnv is wrapped by the errors FromEnv returns for a variable it
// cannot use.
var ErrEnv = errors.New("bad OpenTelemetry setting")

// Provider is a TracerProvider made from the environment, with what
// flushes and stops it.
type Provider struct {
	trace.TracerProvider
	// Shutdown exports the spans still buffered and stops the exporter.
	Shutdown func(context.Context) error
}

// FromEnv makes a TracerProvider from the standard OTEL_* variables
// (read with lookup, such as os.LookupEnv). Tracing is off, and FromEnv
// returns nil, unless OTEL_TRACES_EXPORTER names an exporter or an OTLP
// endpoint is set; OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none
// turn it off.
//
// Exporters: otlp (over http/protobuf, to OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, default http://localhost:4318) and
// console (spans as JSON on console: the isle command gives stderr, since
// a guest's stdout is its own).
// The OTLP exporter reads its own variables (headers, timeout,
// compression, certificates), the SDK reads OTEL_TRACES_SAMPLER and
// OTEL_BSP_*, and the resource reads OTEL_SERVICE_NAME (default "isle")
// and OTEL_RESOURCE_ATTRIBUTES.
func FromEnv(ctx context.Context, lookup func(string) (string, bool), console io.Writer) (*Provider, error) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	if strings.EqualFold(get("OTEL_SDK_DISABLED"), "true") {
		return nil, nil
	}
	names := get("OTEL_TRACES_EXPORTER")
	if names == "" {
		if get("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
			return nil, nil
		}
		names = "otlp"
	}
	var opts []sdktrace.TracerProviderOption
	for _, name := range strings.Split(names, ",") {
		exp, err := exporter(ctx, strings.TrimSpace(name), get, console)
		if err != nil {
			return nil, err
		}
		if exp != nil {
			opts = append(opts, sdktrace.WithBatcher(exp))
		}
	}
	if len(opts) == 0 {
		return nil, nil // only "none"
	}
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", "isle")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("%w: OTEL_RESOURCE_ATTRIBUTES or OTEL_SERVICE_NAME: %w", ErrEnv, err)
	}
	tp := sdktrace.NewTracerProvider(append(opts, sdktrace.WithResource(res))...)
	return &Provider{TracerProvider: tp, Shutdown: tp.Shutdown}, nil
}

// exporter makes the exporter called name, or nil for "none".
func exporter(ctx context.Context, name string, get func(string) string, console io.Writer) (sdktrace.SpanExporter, error) {
	switch name {
	case "none":
		return nil, nil
	case "console":
		return stdouttrace.New(stdouttrace.WithWriter(console))
	case "otlp":
		proto := get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
		if proto == "" {
			proto = get("OTEL_EXPORTER_OTLP_PROTOCOL")
		}
		if proto != "" && proto != "http/protobuf" {
			return nil, fmt.Errorf("%w: OTEL_EXPORTER_OTLP_PROTOCOL=%s: isle exports traces over http/protobuf only; set that or unset it", ErrEnv, proto)
		}
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: OTLP exporter: %w", ErrEnv, err)
		}
		return exp, nil
	}
	return nil, fmt.Errorf("%w: OTEL_TRACES_EXPORTER=%s: isle knows otlp, console and none", ErrEnv, name)
}
