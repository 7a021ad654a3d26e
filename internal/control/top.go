package control

import (
	"cmp"
	"slices"
	"time"

	"github.com/isle-run/isle"
)

// DefaultTopN is how many processes a TopView lists unless asked.
const DefaultTopN = 20

// topState is one top client's previous frame: fuel by pid, to turn fuel
// spent into a rate.
type topState struct {
	fuel map[uint64]int64
	at   time.Time
}

// frame takes a snapshot and keeps the first req.N processes by req.Sort,
// adding up the rest, so that a node of 100,000 processes sends a few
// dozen rows.
func (t *topState) frame(node *isle.Node, req Request) *TopView {
	start := time.Now()
	snap := node.Snapshot()
	n := req.N
	if n <= 0 {
		n = DefaultTopN
	}
	sort := req.Sort
	if sort != SortMemory && sort != SortMailbox {
		sort = SortFuel
	}
	rows := make([]TopRow, len(snap.Processes))
	fuel := make(map[uint64]int64, len(snap.Processes))
	dt := snap.Taken.Sub(t.at).Seconds()
	for i, p := range snap.Processes {
		rows[i] = TopRow{ProcessInfo: p}
		fuel[p.PID] = p.Fuel
		if prev, ok := t.fuel[p.PID]; ok && dt > 0 {
			rows[i].FuelRate = float64(p.Fuel-prev) / dt
		} else if up := p.Uptime.Seconds(); up > 0 {
			rows[i].FuelRate = float64(p.Fuel) / up
		}
	}
	t.fuel, t.at = fuel, snap.Taken
	slices.SortFunc(rows, func(a, b TopRow) int {
		var c int
		switch sort {
		case SortMemory:
			c = cmp.Compare(b.Memory, a.Memory)
		case SortMailbox:
			c = cmp.Compare(b.Mailbox, a.Mailbox)
		default:
			c = cmp.Compare(b.FuelRate, a.FuelRate)
		}
		return cmp.Or(c, cmp.Compare(a.PID, b.PID))
	})
	v := &TopView{Taken: snap.Taken, Sort: sort, Memory: snap.Memory, Ceiling: snap.Ceiling}
	n = min(n, len(rows))
	v.Rows = rows[:n:n]
	v.Rest = aggregate(rows[n:])
	v.All = aggregate(rows)
	v.Cost = time.Since(start)
	return v
}

func aggregate(rows []TopRow) Aggregate {
	a := Aggregate{Processes: len(rows)}
	for _, r := range rows {
		a.FuelRate += r.FuelRate
		a.Memory += r.Memory
		a.Mailbox += r.Mailbox
	}
	return a
}
