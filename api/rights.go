package api

// Rights is a bitmask of what a capability allows. Its bits mean different
// things for different kinds of capability; the constants below name them.
// A right can be dropped (attenuation) but never regained.
type Rights uint32

// Process rights.
const (
	RightSend    Rights = 1 << 0 // send and call
	RightMonitor Rights = 1 << 1 // monitor
	RightKill    Rights = 1 << 2 // kill, and link (a link can end the peer)
)

// Directory rights.
const (
	RightRead   Rights = 1 << 0 // read files, list directories
	RightWrite  Rights = 1 << 1 // write and truncate existing files, change times
	RightCreate Rights = 1 << 2 // create files, directories and links
	RightDelete Rights = 1 << 3 // remove and rename away
)

// Key-value rights.
const (
	RightGet    Rights = 1 << 0
	RightPut    Rights = 1 << 1
	RightRemove Rights = 1 << 2
	RightList   Rights = 1 << 3
)

// Clock rights.
const (
	RightMonotonic Rights = 1 << 0 // read the monotonic clock
	RightWall      Rights = 1 << 1 // read the wall clock
)

// RightUse is the one right of capabilities that have only one: a spawner,
// entropy, the log, HTTP egress, and a revoker.
const RightUse Rights = 1
