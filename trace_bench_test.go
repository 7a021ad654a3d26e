package isle_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/isle-run/isle"
)

// BenchmarkRoundTripTraced is BenchmarkRoundTrip with tracing on: every
// turn is a sampled span, batched to an exporter that drops them, so it
// measures what making the spans costs, not shipping them.
func BenchmarkRoundTripTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	defer tp.Shutdown(context.Background())
	benchRoundTrip(b, isle.Config{TracerProvider: tp})
}
