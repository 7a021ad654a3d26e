package isle_test

import (
	"context"
	"encoding/binary"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/isle-run/isle"
)

// BenchmarkRoundTripTraced is BenchmarkRoundTrip with tracing on: every
// turn is a sampled span, batched to an exporter that drops them, so it
// measures what making the spans costs, not shipping them.
func BenchmarkRoundTripTraced(b *testing.B) {
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	defer tp.Shutdown(ctx)
	node, err := isle.NewNode(ctx, isle.Config{TracerProvider: tp})
	if err != nil {
		b.Fatal(err)
	}
	defer node.Close(ctx)
	mod, err := node.LoadModuleFile(ctx, reactor(b, "testdata/c/pingpong.c"))
	if err != nil {
		b.Fatal(err)
	}
	p, err := node.Spawn(ctx, mod, isle.Grants{Spawn: map[string]*isle.Module{"pingpong": mod}}, isle.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	start := func(n int) {
		if _, err := p.Call(ctx, isle.Message{Tag: 1, Data: binary.LittleEndian.AppendUint32(nil, uint32(n))}); err != nil {
			b.Fatal(err)
		}
	}
	start(1000)
	b.ResetTimer()
	start(b.N)
}
