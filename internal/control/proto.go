package control

import (
	"time"

	"github.com/isle-run/isle"
)

// Operations a Request asks for.
const (
	OpHello   = "hello"   // NodeInfo
	OpPS      = "ps"      // a Snapshot
	OpTop     = "top"     // a TopView; ask again on the same connection for rates
	OpInspect = "inspect" // a ProcessDetail of PID
	OpKill    = "kill"    // kill PID
	OpRestart = "restart" // restart Service
	OpLogs    = "logs"    // log records, one Response each; with Follow, then new ones as they come
)

// Request is one line a client sends.
type Request struct {
	Op      string `json:"op"`
	PID     uint64 `json:"pid,omitempty"`
	Service string `json:"service,omitempty"`
	// Sort and N shape a TopView: the N processes first by Sort.
	Sort string `json:"sort,omitempty"`
	N    int    `json:"n,omitempty"`
	// Follow keeps a logs request open for new records.
	Follow bool `json:"follow,omitempty"`
	// Cluster asks a clustered node's ps for every member's processes.
	Cluster bool `json:"cluster,omitempty"`
}

// Response is one line the server sends: an error, or the one field the
// request asked for. A logs request gets one Response per record, then
// one with Done set unless it follows.
type Response struct {
	Error    string              `json:"error,omitempty"`
	Node     *NodeInfo           `json:"node,omitempty"`
	Snapshot *isle.Snapshot      `json:"snapshot,omitempty"`
	Cluster  *ClusterView        `json:"cluster,omitempty"`
	Top      *TopView            `json:"top,omitempty"`
	Detail   *isle.ProcessDetail `json:"detail,omitempty"`
	Log      *isle.LogRecord     `json:"log,omitempty"`
	Done     bool                `json:"done,omitempty"`
}

// NodeInfo says which node answers.
type NodeInfo struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Started time.Time `json:"started"`
	Socket  string    `json:"socket"`
}

// Sort orders for top.
const (
	SortFuel    = "fuel"    // fuel spent per second
	SortMemory  = "memory"  // memory account
	SortMailbox = "mailbox" // queued messages
)

// TopView is one frame of `isle top`: the first N processes by the sort
// order, and the rest added up.
type TopView struct {
	Taken   time.Time `json:"taken"`
	Sort    string    `json:"sort"`
	Memory  uint64    `json:"memory"`
	Ceiling uint64    `json:"ceiling"`
	// Cost is how long the node took to take and sort its snapshot.
	Cost time.Duration `json:"cost"`
	Rows []TopRow      `json:"rows"`
	// Rest adds up the processes not in Rows, and All every one.
	Rest Aggregate `json:"rest"`
	All  Aggregate `json:"all"`
}

// TopRow is one process in a TopView.
type TopRow struct {
	isle.ProcessInfo
	// FuelRate is fuel spent per second since the previous frame, or
	// since the process started in the first.
	FuelRate float64 `json:"fuel_rate"`
}

// Aggregate adds up processes.
type Aggregate struct {
	Processes int     `json:"processes"`
	FuelRate  float64 `json:"fuel_rate"`
	Memory    uint64  `json:"memory"`
	Mailbox   int     `json:"mailbox"`
}
