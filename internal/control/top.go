package control

import (
	"cmp"
	"time"

	"github.com/isle-run/isle"
)

// DefaultTopN is how many processes a TopView lists unless asked.
const DefaultTopN = 20

// topState is one top client's previous frame: fuel by pid, in pid
// order, to turn fuel spent into a rate.
type topState struct {
	prev []pidFuel
	at   time.Time
}

type pidFuel struct {
	pid  uint64
	fuel int64
}

// frame takes a snapshot and keeps the first req.N processes by req.Sort,
// adding up the rest, so that a node of 100,000 processes sends a few
// dozen rows. It makes one pass over the snapshot, which is in pid order
// as the previous frame is, so rates need no map and the top N no sort
// of the whole.
func (t *topState) frame(node *isle.Node, req Request) *TopView {
	start := time.Now()
	snap := node.Snapshot()
	n := req.N
	if n <= 0 {
		n = DefaultTopN
	}
	n = min(n, len(snap.Processes)) // a client's number must not size memory
	v := &TopView{Taken: snap.Taken, Sort: req.Sort, Memory: snap.Memory, Ceiling: snap.Ceiling}
	if v.Sort != SortMemory && v.Sort != SortMailbox {
		v.Sort = SortFuel
	}
	order := func(a, b *TopRow) int { // negative: a comes first
		var c int
		switch v.Sort {
		case SortMemory:
			c = cmp.Compare(b.Memory, a.Memory)
		case SortMailbox:
			c = cmp.Compare(b.Mailbox, a.Mailbox)
		default:
			c = cmp.Compare(b.FuelRate, a.FuelRate)
		}
		return cmp.Or(c, cmp.Compare(a.PID, b.PID))
	}
	dt := snap.Taken.Sub(t.at).Seconds()
	next := make([]pidFuel, len(snap.Processes))
	// top holds the first n rows in order, and one more as scratch.
	top := make([]TopRow, 0, n+1)
	j := 0
	for i := range snap.Processes {
		p := &snap.Processes[i]
		next[i] = pidFuel{p.PID, p.Fuel}
		top = append(top, TopRow{ProcessInfo: *p})
		row := &top[len(top)-1]
		for j < len(t.prev) && t.prev[j].pid < p.PID {
			j++
		}
		if j < len(t.prev) && t.prev[j].pid == p.PID && dt > 0 {
			row.FuelRate = float64(p.Fuel-t.prev[j].fuel) / dt
		} else if up := p.Uptime.Seconds(); up > 0 {
			row.FuelRate = float64(p.Fuel) / up
		}
		v.All.add(row)
		// Move the new row up to its place; most rows stay last and are
		// dropped.
		for k := len(top) - 1; k > 0 && order(&top[k], &top[k-1]) < 0; k-- {
			top[k], top[k-1] = top[k-1], top[k]
		}
		top = top[:min(len(top), n)]
	}
	t.prev, t.at = next, snap.Taken
	v.Rows = top
	v.Rest = v.All
	for i := range top {
		v.Rest.sub(&top[i])
	}
	v.Cost = time.Since(start)
	return v
}

func (a *Aggregate) add(r *TopRow) {
	a.Processes++
	a.FuelRate += r.FuelRate
	a.Memory += r.Memory
	a.Mailbox += r.Mailbox
}

func (a *Aggregate) sub(r *TopRow) {
	a.Processes--
	a.FuelRate -= r.FuelRate
	a.Memory -= r.Memory
	a.Mailbox -= r.Mailbox
}
