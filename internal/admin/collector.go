package admin

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MailboxBuckets are the upper bounds of the mailbox depth histogram: the
// default mailbox holds 1,024 messages.
var MailboxBuckets = []float64{0, 1, 4, 16, 64, 256, 1024}

// States are the process states the processes gauge always reports, so
// that a state with no process shows as 0 rather than vanishing.
var States = []string{"running", "waiting", "idle", "queued", "exiting"}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("isle_"+name, help, labels, nil)
}

var (
	descProcesses   = desc("processes", "Live processes by state: running, waiting (blocked in receive), idle (a reactor with nothing to do), queued (a reactor waiting for a worker), exiting (killed or ending).", "state")
	descSvcProcs    = desc("service_processes", "Live processes by service (a service's instance and what it spawned; \"\" is outside any service).", "service")
	descSpawns      = desc("spawns_total", "Processes spawned, by service.", "service")
	descExits       = desc("exits_total", "Processes ended, by service, kind (normal, abandoned, killed, failed) and cause.", "service", "kind", "cause")
	descRestarts    = desc("restarts_total", "Restarts of a supervised service.", "service")
	descSent        = desc("messages_sent_total", "Messages sent by processes (sends, calls and replies), by service.", "service")
	descReceived    = desc("messages_received_total", "Messages processes took from their mailboxes, signals included, by service.", "service")
	descHostSent    = desc("host_messages_sent_total", "Messages sent by the Go host, HTTP ingress requests among them.")
	descMailbox     = desc("mailbox_depth", "Messages waiting in each live process's mailbox, sampled at scrape time.")
	descFuel        = desc("fuel_consumed_total", "Fuel (instructions, roughly) spent by processes, by service.", "service")
	descMemory      = desc("memory_bytes", "What the node holds for all its processes and images now: linear memory, tables, stacks, queued messages.")
	descImages      = desc("image_bytes", "What the node holds now for images, the snapshots processes start from; part of memory_bytes.")
	descEvicted     = desc("images_evicted_total", "Images dropped to make room under the node's ceiling for processes.")
	descBuilds      = desc("image_builds_total", "Images the node started to make: each runs a module's init once.")
	descMemoryPeak  = desc("memory_peak_bytes", "The most the node has held for its processes at once.")
	descMemoryLimit = desc("memory_limit_bytes", "The node's ceiling on what its processes hold together.")
	descFiles       = desc("files", "Host descriptors the node's processes hold open: files, directories and HTTP requests in flight.")
	descFileLimit   = desc("files_limit", "The most host descriptors the node's processes may hold together.")
	descSvcMemory   = desc("service_memory_bytes", "What the node holds for the live processes of a service.", "service")
	descKV          = desc("kv_operations_total", "Key-value operations asked of the node's store, by op (get, put, delete, list).", "op")
	descKVBytes     = desc("kv_bytes", "What the node's key-value store holds: each key's bytes, its value's and 64.")
	descKVMax       = desc("kv_max_bytes", "The bound on what the node's key-value store holds (Config.KVMaxBytes; 0: none).")
	descKVCommits   = desc("kv_commits_total", "Write transactions of the node's key-value store, each one fsync; a batch of writes that changes nothing is not one.")
	descHTTP        = desc("http_requests_total", "HTTP ingress requests by route (a service, or the module a process handler serves) and status class.", "route", "class")
)

// Collector turns a Source into Prometheus metrics at scrape time: it
// keeps no state of its own.
//
// A scrape walks every process, so scrapes are taken one at a time and one
// less than sampleReuse old is answered again: scraping in a loop cannot
// make the node walk its processes more than ten times a second.
type Collector struct {
	src Source

	mu   sync.Mutex // guards last and at; held through a collection
	last []prometheus.Metric
	at   time.Time
}

// sampleReuse is how long a collection is answered again.
const sampleReuse = 100 * time.Millisecond

// NewCollector returns a collector reading src.
func NewCollector(src Source) *Collector { return &Collector{src: src} }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descProcesses, descSvcProcs, descSpawns, descExits, descRestarts,
		descSent, descReceived, descHostSent, descMailbox, descFuel, descMemory, descMemoryPeak, descMemoryLimit,
		descImages, descEvicted, descBuilds, descSvcMemory, descKV, descHTTP, descFiles, descFileLimit, descKVBytes, descKVMax, descKVCommits} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil || time.Since(c.at) >= sampleReuse {
		c.last, c.at = c.collect(c.last[:0]), time.Now()
	}
	for _, m := range c.last {
		ch <- m
	}
}

// collect reads the node, appending its metrics to out.
func (c *Collector) collect(out []prometheus.Metric) []prometheus.Metric {
	states := map[string]float64{}
	svcProcs := map[string]float64{}
	svcMem := map[string]float64{}
	buckets := make(map[float64]uint64, len(MailboxBuckets))
	var depthSum float64
	var procs uint64
	cs := c.src.Sample(func(p *Proc) {
		procs++
		states[p.State]++
		svcProcs[p.Service]++
		svcMem[p.Service] += float64(p.Memory)
		depthSum += float64(p.Queued)
		for _, b := range MailboxBuckets {
			if float64(p.Queued) <= b {
				buckets[b]++ // cumulative, as Prometheus wants
			}
		}
	})
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...))
	}
	for _, s := range States {
		gauge(descProcesses, states[s], s)
	}
	for s, n := range states {
		if !isKnownState(s) {
			gauge(descProcesses, n, s)
		}
	}
	for svc, n := range svcProcs {
		gauge(descSvcProcs, n, svc)
		gauge(descSvcMemory, svcMem[svc], svc)
	}
	out = append(out, prometheus.MustNewConstHistogram(descMailbox, procs, depthSum, buckets))
	for name, s := range cs.Services {
		counter(descSpawns, float64(s.Spawns), name)
		counter(descRestarts, float64(s.Restarts), name)
		counter(descSent, float64(s.Sent), name)
		counter(descReceived, float64(s.Received), name)
		counter(descFuel, float64(s.Fuel), name)
		for k, n := range s.Exits {
			counter(descExits, float64(n), name, k.Kind, k.Cause)
		}
	}
	counter(descHostSent, float64(cs.HostSent))
	gauge(descMemory, float64(cs.Memory))
	gauge(descMemoryPeak, float64(cs.PeakMemory))
	gauge(descMemoryLimit, float64(cs.MemoryLimit))
	gauge(descImages, float64(cs.Images))
	gauge(descFiles, float64(cs.Files))
	gauge(descFileLimit, float64(cs.FileLimit))
	counter(descEvicted, float64(cs.ImagesEvicted))
	counter(descBuilds, float64(cs.ImageBuilds))
	for _, op := range []string{"get", "put", "delete", "list"} {
		counter(descKV, float64(cs.KV[op]), op)
	}
	gauge(descKVBytes, float64(cs.KVBytes))
	gauge(descKVMax, float64(cs.KVMaxBytes))
	counter(descKVCommits, float64(cs.KVCommits))
	for k, n := range cs.HTTP {
		counter(descHTTP, float64(n), k.Route, k.Class)
	}
	return out
}

func isKnownState(s string) bool {
	for _, k := range States {
		if k == s {
			return true
		}
	}
	return false
}
