package isle_test

import (
	"strconv"
	"testing"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// logFlooders loads testdata/wat/logflood.wat on node and returns a
// spawner of its reactors, each granted the node's log.
func logFlooders(t *testing.T, node *isle.Node) func(isle.Limits) *isle.Process {
	t.Helper()
	mod := load(t, node, testwasm.WAT(t, "testdata/wat/logflood.wat"))
	g := isle.Grants{Caps: map[string]isle.Capability{"log": isle.LogCap()}}
	return func(l isle.Limits) *isle.Process {
		t.Helper()
		p, err := node.Spawn(testwasm.Context(t), mod, g, l)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// logsFrom counts the records in recs that p logged.
func logsFrom(recs []isle.LogRecord, p *isle.Process) (n int) {
	for _, r := range recs {
		if r.Attr("pid") == strconv.FormatUint(p.ID(), 10) {
			n++
		}
	}
	return n
}

// A process tree that floods the log evicts its own records from the
// node's ring, not a neighbour's: the ring drops the oldest record of
// whoever holds the most. Before, 128 records of 16 KiB from one guest
// evicted everything else from Node.Logs.
func TestLogFloodEvictsItsOwnRecords(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	ctx := testwasm.Context(t)
	spawn := logFlooders(t, node)
	neighbour, flood := spawn(isle.Limits{}), spawn(isle.Limits{})
	if _, err := neighbour.Call(ctx, isle.Message{Tag: 3}); err != nil {
		t.Fatal(err)
	}
	const floods = 1000 // 16 MiB: eight times the ring
	if _, err := flood.Call(ctx, isle.Message{Tag: floods}); err != nil {
		t.Fatal(err)
	}
	recs, _ := node.Logs(0)
	count := func(p *isle.Process) int { return logsFrom(recs, p) }
	if n := count(neighbour); n != 3 {
		t.Errorf("the ring kept %d of the neighbour's 3 records beside a flood of %d (%d records kept)", n, floods, len(recs))
	}
	if n := count(flood); n == 0 || n >= floods/4 {
		t.Errorf("the ring kept %d of the flood's %d records", n, floods)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq <= recs[i-1].Seq {
			t.Fatalf("records out of order: %d after %d", recs[i].Seq, recs[i-1].Seq)
		}
	}
}

// A record costs its writer fuel for the bytes the host copies and
// formats: a guest flooding the log on a budget of 2M fuel stops after a
// few thousand records of 16 KiB. Before, log_write cost what any call
// does, and the same budget wrote 133,332 of them (2.1 GB).
func TestLogWriteCostsFuel(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	ctx := testwasm.Context(t)
	p := logFlooders(t, node)(isle.Limits{Fuel: 2_000_000})
	if err := p.Send(ctx, isle.Message{Tag: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	exit, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Abandon == nil || exit.Abandon.Cause != api.CauseFuelExhausted {
		t.Fatalf("the flood ended %v, want fuel exhausted", exit)
	}
	recs, _ := node.Logs(0)
	n := recs[len(recs)-1].Seq
	t.Logf("2M fuel wrote %d records of 16 KiB", n)
	if n > 10_000 {
		t.Errorf("2M fuel wrote %d records of 16 KiB", n)
	}
}

// Trees that have ended count as one source of the log ring: a stream of
// short-lived trees, each logging a record and ending, evicts their own
// records, not a live neighbour's. Before, each ended tree was a source of
// one record, the neighbour's three made it the largest, and they were
// the first to go.
func TestEndedTreesShareOneLogShare(t *testing.T) {
	t.Parallel()
	node := newNode(t)
	ctx := testwasm.Context(t)
	spawn := logFlooders(t, node)
	neighbour := spawn(isle.Limits{})
	if _, err := neighbour.Call(ctx, isle.Message{Tag: 3}); err != nil {
		t.Fatal(err)
	}
	const trees = 200 // 3.2 MiB of 16 KiB records: more than the ring holds
	for range trees {
		p := spawn(isle.Limits{})
		if _, err := p.Call(ctx, isle.Message{Tag: 1}); err != nil {
			t.Fatal(err)
		}
		p.Kill()
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	recs, _ := node.Logs(0)
	if got := logsFrom(recs, neighbour); got != 3 {
		t.Fatalf("after %d short-lived trees logged a record each, the live neighbour has %d of its 3 records in Node.Logs; want 3 (%d kept)", trees, got, len(recs))
	}
}
