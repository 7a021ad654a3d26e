package isle

// Handle names one entry in the calling process's own handle table: a
// process, a reply right or a spawner. The number means nothing outside
// this process; a handle received in a message has already been renumbered
// into this process's table. Using a number that is not in the table is a
// bug, and the kernel abandons the process for it.
type Handle uint32

// Ref names a monitor set up by (Process).Monitor. It comes back as the
// aux of the monitor's TagDown message.
type Ref uint32

// System tags. Tags at or above TagSystem are reserved: only the kernel
// sends them, and sending one is misuse.
const (
	// TagSystem is the first reserved tag.
	TagSystem uint32 = 0xFFFF0000
	// TagExit is an exit signal from a linked process, delivered as a
	// message while the receiver traps exits. See (Message).ExitReason.
	TagExit uint32 = 0xFFFF0001
	// TagDown tells a monitor that its target ended. See
	// (Message).ExitReason and (Message).Ref.
	TagDown uint32 = 0xFFFF0002
	// TagInit is the first message of every process started by Spawn.
	TagInit uint32 = 0xFFFF0003
	// TagShutdown asks the process to end: its supervisor is stopping it,
	// and kills it if it has not ended within its shutdown timeout. A
	// reactor's handler sees it like any message; when the handler
	// returns, the reactor exits with code 0.
	TagShutdown uint32 = 0xFFFF0004
)

// Limits of one message, as the kernel enforces them.
const (
	// MaxMessage is the largest payload a message may carry (the node's
	// default). A bigger one fails with ErrTooBig.
	MaxMessage = 1 << 20
	// MaxHandles is the most handles one message may carry. More is
	// misuse.
	MaxHandles = 16
)

// Match selects messages by tag for Receive: a message matches when
// tag&Mask == Tag. The zero Match takes any message.
type Match struct {
	Tag  uint32
	Mask uint32
}

// MatchTag matches exactly one tag.
func MatchTag(tag uint32) Match { return Match{Tag: tag, Mask: ^uint32(0)} }

// MatchSystem matches every system message: TagExit, TagDown and TagInit.
var MatchSystem = Match{Tag: TagSystem, Mask: 0xFFFF0000}
