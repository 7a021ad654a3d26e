package isle

import (
	"runtime/debug"

	"github.com/isle-run/isle/internal/linmem"
)

// FreeOSMemory gives the operating system back the memory isle keeps for
// reuse: the Go heap's free pages, as runtime/debug.FreeOSMemory does,
// and the pages of dead processes' linear memories that are kept warm for
// the next small process. Those are at most 64 MiB over every node of the
// host process (and a sixteenth of the smallest running node's
// Config.MaxMemory), each kept for at most about 3 s, and they belong to no
// process's account (see "Warm pages" in docs/RATIONALE.md). Call it
// before measuring the host's memory, or after a burst of processes has
// ended, when the pages should go back at once.
func FreeOSMemory() {
	debug.FreeOSMemory() // first: a collection may free more regions
	linmem.Release()
}

// WarmMemory reports the bytes of dead processes' linear memory kept warm
// for reuse: FreeOSMemory gives them back.
func WarmMemory() int64 { return linmem.WarmBytes() }
