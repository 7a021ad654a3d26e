// Package admin serves a node's admin endpoints: /metrics in the
// Prometheus text format, and a live dashboard at / fed by Server-Sent
// Events. It reads everything through a Source, which the root package
// implements over the kernel, so that the metrics are computed from the
// node's own state when they are asked for rather than kept up to date on
// every message.
package admin

import "time"

// Source is what the admin endpoints read a node through.
type Source interface {
	// Sample visits every live process, then returns the node's counters
	// as of the same instant. visit must be quick: it runs under the
	// node's process table lock.
	Sample(visit func(*Proc)) Counters
	// Tree returns the supervision trees running on the node.
	Tree() []TreeNode
	// Crashes returns the most recent crash reports, oldest first.
	Crashes() []Crash
	// Changed returns a channel closed at the next crash or restart, so
	// that a dashboard shows it at once rather than at its next tick.
	Changed() <-chan struct{}
}

// Proc is one live process.
type Proc struct {
	PID     uint64 `json:"pid"`
	Parent  uint64 `json:"parent,omitempty"`
	Module  string `json:"module"`
	Service string `json:"service,omitempty"`
	State   string `json:"state"`
	Fuel    int64  `json:"fuel"`
	Memory  uint64 `json:"memory"`
	Queued  int    `json:"queued"`
}

// Counters are the node's cumulative counters and gauges that are not
// per process.
type Counters struct {
	// Services holds the counters by service path ("front/web"); "" is
	// the processes outside any supervised service.
	Services map[string]*ServiceCounters
	// HostSent counts messages the Go host sent (HTTP requests among
	// them).
	HostSent uint64
	// Memory, PeakMemory and MemoryLimit are the node's memory account.
	Memory, PeakMemory, MemoryLimit int64
	// Files is how many host descriptors the node's processes hold open,
	// and FileLimit the most they may.
	Files, FileLimit int64
	// Images is what images hold of Memory; ImagesEvicted counts the
	// images evicted to make room for processes, ImageBuilds the images
	// the node started to make.
	Images                     int64
	ImagesEvicted, ImageBuilds uint64
	// KV counts key-value operations by kind: get, put, delete, list.
	KV map[string]uint64
	// KVBytes is what the key-value store holds (each key's bytes, its
	// value's and 64), and KVMaxBytes its bound (0: none); both 0 until
	// the store is opened.
	KVBytes, KVMaxBytes int64
	// KVCommits counts the store's write transactions, each one fsync.
	KVCommits uint64
	// HTTP counts HTTP ingress requests by route and status class.
	HTTP map[HTTPKey]uint64
}

// ServiceCounters are one service's counters.
type ServiceCounters struct {
	Spawns, Sent, Received, Restarts uint64
	Fuel                             int64
	Exits                            map[ExitKey]uint64
}

// ExitKey classifies an exit with a bounded set of values.
type ExitKey struct{ Kind, Cause string }

// HTTPKey is an HTTP request's route (a service path, or the module a
// process handler serves) and its status class ("2xx"...).
type HTTPKey struct{ Route, Class string }

// Service returns the counters of the service called name, making them.
func (c *Counters) Service(name string) *ServiceCounters {
	if c.Services == nil {
		c.Services = map[string]*ServiceCounters{}
	}
	s := c.Services[name]
	if s == nil {
		s = &ServiceCounters{Exits: map[ExitKey]uint64{}}
		c.Services[name] = s
	}
	return s
}

// TreeNode is a supervisor or one of its services.
type TreeNode struct {
	Name string `json:"name"`
	// Kind is "supervisor" or "service".
	Kind     string `json:"kind"`
	Strategy string `json:"strategy,omitempty"`
	// Path is a service's full name, as metrics label it.
	Path     string     `json:"path,omitempty"`
	PID      uint64     `json:"pid,omitempty"`
	Restarts uint64     `json:"restarts"`
	Ended    bool       `json:"ended,omitempty"`
	Children []TreeNode `json:"children,omitempty"`
}

// Crash is one crash report: a supervised process that ended abnormally.
type Crash struct {
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	Supervisor string    `json:"supervisor"`
	Service    string    `json:"service"`
	PID        uint64    `json:"pid,omitempty"`
	Module     string    `json:"module,omitempty"`
	Reason     string    `json:"reason"`
	// Tag and Trace are the tag and causality id of the message being
	// handled at the crash, when there was one.
	Tag   string `json:"tag,omitempty"`
	Trace string `json:"trace,omitempty"`
}
