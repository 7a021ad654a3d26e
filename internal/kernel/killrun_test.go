package kernel

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/isle-run/isle/internal/testwasm"
)

// A kill that lands while a reactor's run drains its mailbox ends the
// reactor: the run, finding nothing more to take, must not put a killed
// reactor back to idle (landKill saw it running and left it to the run).
// Many reactors are killed at random points of a flood of messages; each
// must end by the deadline.
func TestKillDuringRunLands(t *testing.T) {
	r := newRecorder()
	k := recordingKernel(t, r)
	mod := recordingReactor(t, k)
	const rounds = 300
	var wg sync.WaitGroup
	for i := range rounds {
		p := spawn(t, k, mod, Spec{})
		wg.Go(func() {
			for j := range 64 {
				if k.HostSend(context.Background(), p, NewMessage(uint32(j), nil), false) != nil {
					return // killed already
				}
			}
		})
		for range i % 8 { // vary where the kill lands
			runtime.Gosched()
		}
		p.Kill("killed mid-run")
		ctx, cancel := context.WithTimeout(testwasm.Context(t), 30*time.Second)
		if _, err := p.Wait(ctx); err != nil {
			cancel()
			t.Fatalf("round %d: a reactor killed while its run drained messages never ended: %v", i, err)
		}
		cancel()
	}
	wg.Wait()
}
