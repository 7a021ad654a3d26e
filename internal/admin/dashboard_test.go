package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSource is a node of n processes: process i has fuel i, memory
// (n-i)*10 and i%7 queued messages.
type fakeSource struct{ n int }

func (f fakeSource) Sample(visit func(*Proc)) Counters {
	var c Counters
	for i := 1; i <= f.n; i++ {
		visit(&Proc{PID: uint64(i), Module: "m", State: States[i%len(States)], Fuel: int64(i),
			Memory: uint64(f.n-i) * 10, Queued: i % 7})
	}
	c.Service("").Spawns = uint64(f.n)
	return c
}
func (fakeSource) Tree() []TreeNode         { return nil }
func (fakeSource) Crashes() []Crash         { return nil }
func (fakeSource) Changed() <-chan struct{} { return nil }

// With 10,000 processes a frame lists at most the top n by each of fuel,
// memory and mailbox, the largest of each among them, and sums the rest
// exactly; it stays small.
func TestFrameTopAndRest(t *testing.T) {
	const procs, top = 10_000, 25
	f := BuildFrame(fakeSource{procs}, top)
	if len(f.Top) > 3*top || len(f.Top) < top {
		t.Fatalf("%d processes listed; want between %d and %d", len(f.Top), top, 3*top)
	}
	listed := map[uint64]Proc{}
	var fuel int64
	var mem uint64
	queued := 0
	for _, p := range f.Top {
		listed[p.PID] = p
		fuel += p.Fuel
		mem += p.Memory
		queued += p.Queued
	}
	for i := procs - top + 1; i <= procs; i++ {
		if _, ok := listed[uint64(i)]; !ok {
			t.Errorf("pid %d, among the top %d by fuel, is not listed", i, top)
		}
	}
	for i := 1; i <= top; i++ {
		if _, ok := listed[uint64(i)]; !ok {
			t.Errorf("pid %d, among the top %d by memory, is not listed", i, top)
		}
	}
	wantFuel := int64(procs) * (procs + 1) / 2
	if f.Rest.Count+len(f.Top) != procs || f.Rest.Fuel+fuel != wantFuel || f.Totals.Processes != procs {
		t.Errorf("rest %+v plus %d listed does not add up to %d processes and %d fuel", f.Rest, len(f.Top), procs, wantFuel)
	}
	if f.Totals.Spawns != procs || f.Rest.Queued+queued != f.Totals.Queued {
		t.Errorf("totals %+v", f.Totals)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 16<<10 {
		t.Errorf("a frame of %d processes is %d bytes", procs, len(b))
	}
}

// countingSource counts how often the node is walked.
type countingSource struct {
	fakeSource
	walks atomic.Int64
}

func (c *countingSource) Sample(visit func(*Proc)) Counters {
	c.walks.Add(1)
	return c.fakeSource.Sample(visit)
}

// However often /metrics and /snapshot are asked for, and whatever ?top=,
// the node is walked at most once per 100 ms for each (and for each frame
// size, see frameSizes): a client asking in a loop cannot make the node
// walk its processes on demand.
func TestScrapesInALoopDoNotWalkTheNodeEachTime(t *testing.T) {
	src := &countingSource{fakeSource: fakeSource{1000}}
	h := Handler(src, Options{})
	start := time.Now()
	const asks = 200
	for i := range asks {
		// A different ?top= at each ask must not force a walk either.
		for _, path := range []string{"/metrics", fmt.Sprintf("/snapshot?top=%d", i)} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: %d", path, rec.Code)
			}
		}
	}
	bound := int64(1+len(frameSizes)) * (int64(time.Since(start)/(100*time.Millisecond)) + 1)
	if n := src.walks.Load(); n > bound {
		t.Fatalf("%d requests walked the node %d times in %v; want at most %d", 2*asks, n, time.Since(start), bound)
	}
}
