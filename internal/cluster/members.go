package cluster

import "time"

// Member is one node as this node sees it.
type Member struct {
	// Name is the node's name.
	Name string
	// Incarnation is random per Start of that node; a restarted node is a
	// new incarnation and so a new member.
	Incarnation uint64
	// Up reports whether this node considers the link to the member live.
	Up bool
	// LastSeen is when this node last heard from the member.
	LastSeen time.Time
	// Session is the number this node gave the link to the member: while
	// Up, the current link's; in a Down event, the one just ended; while
	// not Up, the one offered for the next link, or 0; 0 for self.
	// Session numbers are unique per node and never reused: state kept
	// about a peer is tagged with it, and dropped when it goes Down.
	Session uint64
	// PeerSession is the number the member gave the same link. Messages
	// for the member carry Stamp(); see Node.Admit.
	PeerSession uint64
}

// Stamp is what a message to the member carries so the member can tell
// whether it belongs to the current link: see Node.Admit.
func (m Member) Stamp() Stamp {
	return Stamp{To: m.PeerSession, From: m.Session}
}

// Stamp tags a message with the link it was sent on: To is the
// receiver's session for the link, From the sender's.
type Stamp struct {
	To, From uint64
}

// EventKind says whether a member came Up or went Down.
type EventKind int

// Event kinds.
const (
	Up EventKind = iota + 1
	Down
)

func (k EventKind) String() string {
	switch k {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "unknown"
}

// Reasons a member goes Down.
const (
	// ReasonNoConnection: the member fell silent, restarted, or a
	// partition made one side give up the link.
	ReasonNoConnection = "noconnection"
	// ReasonShutdown: the member left cleanly (Node.Close).
	ReasonShutdown = "shutdown"
)

// Event is a change of a member's state.
type Event struct {
	Kind   EventKind
	Member Member
	// Reason is ReasonNoConnection or ReasonShutdown for Down, "" for Up.
	Reason string
}

// beat is a heartbeat or a leave, as sent on the wire.
type beat struct {
	Leave bool   `json:"l,omitempty"`
	Name  string `json:"n"`
	Inc   uint64 `json:"i"`
	// Ctr increases with every beat of an incarnation, from the sender's
	// wall clock at its start: a receiver with credentials drops a beat
	// whose Ctr is not above the last it took (see beatGuard).
	Ctr  uint64  `json:"c,omitempty"`
	View []entry `json:"v,omitempty"`
}

// entry is the sender's link to one peer: its own session for the link
// (Mine, never 0 in a view) and what it last heard as the peer's (Theirs).
type entry struct {
	Name   string `json:"n"`
	Inc    uint64 `json:"i"`
	Mine   uint64 `json:"m"`
	Theirs uint64 `json:"t,omitempty"`
	// Sealed is how many batches the sender has sealed on the link (its
	// data key's counter), with credentials: the receiver learns of a lost
	// batch with nothing sealed after it (Node.noteSealedLocked).
	Sealed uint64 `json:"s,omitempty"`
}

// peer is the table's record of one remote node.
type peer struct {
	name     string
	inc      uint64
	up       bool
	mine     uint64 // this node's session for the link; 0: no link
	theirs   uint64 // the peer's session for it, as last heard
	lastSeen time.Time
}

func (p *peer) member() Member {
	return Member{Name: p.name, Incarnation: p.inc, Up: p.up, LastSeen: p.lastSeen, Session: p.mine, PeerSession: p.theirs}
}

// table is the membership state machine; it does no I/O, and its caller
// serialises calls.
//
// A link between two nodes comes Up by a handshake carried in heartbeats:
// each lists, per peer, its session for the link and the peer's as last
// heard. A node declares the link Up when the peer's heartbeat echoes the
// node's current session and names one of its own. Once Down, a link's
// session is dropped, and the next heartbeat lists a new one (or none):
// that is the reset, and a peer still Up on the old session sees the
// mismatch and goes Down too before both come Up on new sessions. A
// session once ended is never listed again, so nothing can revive it.
type table struct {
	self      string
	inc       uint64
	downAfter time.Duration
	last      uint64 // last session number given
	peers     map[string]*peer
	dead      map[string][]uint64 // ended incarnations, newest last
}

// maxDead bounds the ended incarnations remembered per name.
const maxDead = 8

func newTable(self string, inc uint64, downAfter time.Duration) *table {
	return &table{self: self, inc: inc, downAfter: downAfter,
		peers: map[string]*peer{}, dead: map[string][]uint64{}}
}

func (t *table) session() uint64 {
	t.last++
	return t.last
}

func (t *table) isDead(name string, inc uint64) bool {
	for _, d := range t.dead[name] {
		if d == inc {
			return true
		}
	}
	return false
}

func (t *table) bury(name string, inc uint64) {
	d := append(t.dead[name], inc)
	if len(d) > maxDead {
		d = d[1:]
	}
	t.dead[name] = d
}

// down ends p's link, returning the Down event if it was Up.
func (t *table) down(p *peer, reason string, evs []Event) []Event {
	if p.up {
		evs = append(evs, Event{Kind: Down, Member: p.member(), Reason: reason})
	}
	p.up, p.mine, p.theirs = false, 0, 0
	return evs
}

// beat handles a heartbeat. changed reports that this node's view
// changed, so it should send a heartbeat now rather than at the next tick.
// dup reports a heartbeat from another node using this node's name.
func (t *table) beat(now time.Time, b *beat) (evs []Event, changed, dup bool) {
	if b.Name == t.self {
		return nil, false, b.Inc != t.inc
	}
	if t.isDead(b.Name, b.Inc) {
		return nil, false, false
	}
	p := t.peers[b.Name]
	if p != nil && p.inc != b.Inc {
		evs = t.down(p, ReasonNoConnection, evs) // restarted
		t.bury(p.name, p.inc)
		p = nil
	}
	if p == nil {
		p = &peer{name: b.Name, inc: b.Inc}
		t.peers[b.Name] = p
	}
	p.lastSeen = now
	var their, ack uint64
	for _, e := range b.View {
		if e.Name == t.self && e.Inc == t.inc {
			their, ack = e.Mine, e.Theirs
		}
	}
	if p.up && (their != p.theirs || ack != p.mine) {
		evs = t.down(p, ReasonNoConnection, evs) // the peer reset the link
		changed = true
	}
	if p.up {
		return evs, changed, false
	}
	if p.mine == 0 {
		p.mine = t.session()
		changed = true
	}
	if their != p.theirs {
		p.theirs = their
		changed = true
	}
	if their != 0 && ack == p.mine {
		p.up = true
		evs = append(evs, Event{Kind: Up, Member: p.member()})
		changed = true
	}
	return evs, changed, false
}

// leave handles a clean leave: the incarnation is ended for good.
func (t *table) leave(b *beat) []Event {
	if b.Name == t.self || t.isDead(b.Name, b.Inc) {
		return nil
	}
	t.bury(b.Name, b.Inc)
	p := t.peers[b.Name]
	if p == nil || p.inc != b.Inc {
		return nil
	}
	return t.down(p, ReasonShutdown, nil)
}

// expire ends the links of peers silent for longer than downAfter.
func (t *table) expire(now time.Time) (evs []Event, changed bool) {
	for _, p := range t.peers {
		if p.mine != 0 && now.Sub(p.lastSeen) > t.downAfter {
			evs = t.down(p, ReasonNoConnection, evs)
			changed = true
		}
	}
	return evs, changed
}

// admit reports whether a message from name stamped s belongs to the
// current link. A stamp naming the link being set up proves the peer has
// already declared it Up (it stamps only then, after seeing this node's
// session echoed with its own), so this node declares it Up too.
func (t *table) admit(name string, s Stamp) (evs []Event, ok bool) {
	p := t.peers[name]
	if p == nil || s.To == 0 || s.To != p.mine || s.From != p.theirs {
		return nil, false
	}
	if !p.up {
		p.up = true
		evs = append(evs, Event{Kind: Up, Member: p.member()})
	}
	return evs, true
}

// view lists this node's links for its heartbeat.
func (t *table) view() []entry {
	v := make([]entry, 0, len(t.peers))
	for _, p := range t.peers {
		if p.mine != 0 {
			v = append(v, entry{Name: p.name, Inc: p.inc, Mine: p.mine, Theirs: p.theirs})
		}
	}
	return v
}

// members lists every known node, self first.
func (t *table) members(now time.Time) []Member {
	ms := make([]Member, 0, len(t.peers)+1)
	ms = append(ms, Member{Name: t.self, Incarnation: t.inc, Up: true, LastSeen: now})
	for _, p := range t.peers {
		ms = append(ms, p.member())
	}
	return ms
}
