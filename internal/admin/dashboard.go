package admin

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Frame is one update of the dashboard: the node's totals, the
// supervision trees, the top processes and an aggregate of the rest, and
// the recent crash reports. Its size does not grow with the number of
// processes: only the top few are listed.
type Frame struct {
	Time    int64          `json:"t"` // Unix milliseconds
	Totals  Totals         `json:"totals"`
	States  map[string]int `json:"states"`
	Tree    []TreeNode     `json:"tree"`
	Top     []Proc         `json:"top"`
	Rest    Aggregate      `json:"rest"`
	Crashes []Crash        `json:"crashes"`
}

// Totals are the node-wide figures the dashboard charts.
type Totals struct {
	Processes   int    `json:"processes"`
	Spawns      uint64 `json:"spawns"`
	Exits       uint64 `json:"exits"`
	Sent        uint64 `json:"sent"`
	Received    uint64 `json:"received"`
	HostSent    uint64 `json:"host_sent"`
	Restarts    uint64 `json:"restarts"`
	Fuel        int64  `json:"fuel"`
	Memory      int64  `json:"memory"`
	MemoryLimit int64  `json:"memory_limit"`
	Queued      int    `json:"queued"`
}

// Aggregate sums the processes left out of Frame.Top.
type Aggregate struct {
	Count  int    `json:"count"`
	Fuel   int64  `json:"fuel"`
	Memory uint64 `json:"memory"`
	Queued int    `json:"queued"`
}

// DefaultTop is how many processes a frame lists by each of fuel, memory
// and mailbox depth.
const DefaultTop = 25

// BuildFrame samples src once into a frame listing the top n processes by
// fuel, by memory and by mailbox depth.
func BuildFrame(src Source, n int) Frame {
	f := Frame{Time: time.Now().UnixMilli(), States: map[string]int{}}
	byFuel := &topN{n: n, key: func(p *Proc) float64 { return float64(p.Fuel) }}
	byMem := &topN{n: n, key: func(p *Proc) float64 { return float64(p.Memory) }}
	byQueue := &topN{n: n, key: func(p *Proc) float64 { return float64(p.Queued) }}
	var all Aggregate
	cs := src.Sample(func(p *Proc) {
		f.States[p.State]++
		all.Count++
		all.Fuel += p.Fuel
		all.Memory += p.Memory
		all.Queued += p.Queued
		byFuel.offer(p)
		byMem.offer(p)
		byQueue.offer(p)
	})
	seen := map[uint64]bool{}
	for _, t := range []*topN{byFuel, byMem, byQueue} {
		for _, p := range t.items {
			if !seen[p.PID] {
				seen[p.PID] = true
				f.Top = append(f.Top, p)
			}
		}
	}
	f.Rest = all
	for _, p := range f.Top {
		f.Rest.Count--
		f.Rest.Fuel -= p.Fuel
		f.Rest.Memory -= p.Memory
		f.Rest.Queued -= p.Queued
	}
	f.Totals = Totals{Processes: all.Count, HostSent: cs.HostSent, Memory: cs.Memory, MemoryLimit: cs.MemoryLimit,
		Queued: all.Queued}
	for _, s := range cs.Services {
		f.Totals.Spawns += s.Spawns
		f.Totals.Sent += s.Sent
		f.Totals.Received += s.Received
		f.Totals.Restarts += s.Restarts
		f.Totals.Fuel += s.Fuel
		for _, n := range s.Exits {
			f.Totals.Exits += n
		}
	}
	f.Tree = src.Tree()
	f.Crashes = src.Crashes()
	if f.Top == nil {
		f.Top = []Proc{}
	}
	return f
}

// topN keeps the n processes with the largest key, as a min-heap.
type topN struct {
	n     int
	key   func(*Proc) float64
	items []Proc
}

func (t *topN) offer(p *Proc) {
	if t.n <= 0 {
		return
	}
	if len(t.items) < t.n {
		heap.Push(t, *p)
		return
	}
	if t.key(p) > t.key(&t.items[0]) {
		t.items[0] = *p
		heap.Fix(t, 0)
	}
}

func (t *topN) Len() int           { return len(t.items) }
func (t *topN) Less(i, j int) bool { return t.key(&t.items[i]) < t.key(&t.items[j]) }
func (t *topN) Swap(i, j int)      { t.items[i], t.items[j] = t.items[j], t.items[i] }
func (t *topN) Push(x any)         { t.items = append(t.items, x.(Proc)) }
func (t *topN) Pop() any {
	p := t.items[len(t.items)-1]
	t.items = t.items[:len(t.items)-1]
	return p
}

// dashboard serves the feed. However many streams are open, a frame is
// built at most once per frameReuse, one build at a time, and shared: a
// frame walks every process, and a stream must not be a way to make the
// node do that on demand.
type dashboard struct {
	src     Source
	streams atomic.Int32 // open event streams

	mu     sync.Mutex // guards frames; held while one is built
	frames [len(frameSizes)]cachedFrame
}

// cachedFrame is the last frame built of one size.
type cachedFrame struct {
	json  []byte // nil until one is built
	built time.Time
	since <-chan struct{} // Source.Changed when it was built: closed once it is stale
}

// frameSizes are the sizes a frame lists, by each of fuel, memory and
// mailbox depth: a request's ?top= is rounded up to one. Each size has
// its frame cached, so a client that varies ?top= at every request makes
// the node walk its processes no more often than one that does not
// (before, it forced a walk per request; found in review).
var frameSizes = [...]int{0, DefaultTop, 100, 1000}

// Bounds of the feed.
const (
	maxStreams = 16                     // event streams open at once
	frameReuse = 100 * time.Millisecond // a frame this fresh is sent again
)

// frameJSON returns a frame of top processes, built afresh unless the last
// one is recent enough.
func (d *dashboard) frameJSON(top int) ([]byte, error) {
	i := 0
	for i < len(frameSizes)-1 && frameSizes[i] < top {
		i++
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := &d.frames[i]
	if c.json != nil && time.Since(c.built) < frameReuse && !closed(c.since) {
		return c.json, nil
	}
	since := d.src.Changed()
	b, err := json.Marshal(BuildFrame(d.src, frameSizes[i]))
	if err != nil {
		return nil, err
	}
	*c = cachedFrame{json: b, built: time.Now(), since: since}
	return b, nil
}

// closed reports whether ch is closed; a crash or restart closes the
// Changed channel a frame was built under, and the frame is then stale.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// query reads the frame size and, for the stream, its period.
func query(r *http.Request) (top int, every time.Duration) {
	top, every = DefaultTop, time.Second
	if v, err := strconv.Atoi(r.URL.Query().Get("top")); err == nil && v >= 0 {
		top = min(v, 1000)
	}
	if v, err := strconv.Atoi(r.URL.Query().Get("interval")); err == nil && v > 0 {
		every = max(time.Duration(v)*time.Millisecond, time.Second)
	}
	return top, every
}

func (d *dashboard) snapshot(w http.ResponseWriter, r *http.Request) {
	top, _ := query(r)
	b, err := d.frameJSON(top)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// minGap spaces frames sent early because something changed, so that a
// crash loop does not turn the stream into a flood.
const minGap = 100 * time.Millisecond

// events streams frames as Server-Sent Events: one per period, and one
// soon after each crash or restart.
func (d *dashboard) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported by this server", http.StatusInternalServerError)
		return
	}
	if d.streams.Add(1) > maxStreams {
		d.streams.Add(-1)
		http.Error(w, fmt.Sprintf("%d dashboard streams are open already; close one", maxStreams), http.StatusServiceUnavailable)
		return
	}
	defer d.streams.Add(-1)
	top, every := query(r)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		changed := d.src.Changed()
		b, err := d.frameJSON(top)
		if err != nil {
			return
		}
		if _, err := fmt.Fprintf(w, "event: frame\ndata: %s\n\n", b); err != nil {
			return
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		case <-changed:
			select {
			case <-r.Context().Done():
				return
			case <-time.After(minGap):
			}
		}
	}
}
