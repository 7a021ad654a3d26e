// Command sdkcmd is the Go command of the SDK tests. Spawned by the host,
// it runs the scenario named by its first argument and prints one line
// per check: "ok NAME ..." or "FAIL NAME: ...", exiting 1 if any failed.
// Spawned by another process (with no arguments), it plays the role its
// init message names: see children.go.
package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"github.com/isle-run/isle/sdk/go/isle"
)

// Tags understood by testdata/go/reactor.
const (
	tagCount    = 2
	tagStored   = 3
	tagSpawnCmd = 4
	tagMainRan  = 5
	tagDecline  = 7
	tagBigReply = 8
	tagEcho     = 42 // echoed by both reactors
	tagStore    = 10
	tagSeq      = 11
	tagHello    = 20
)

// Tags between this command and its children.
const (
	tagTargets = 30 // handles to send to
	tagFill    = 31 // request: TrySend until ErrFull; reply how many fit
	tagFlood   = 32 // blocking-send this many more
	tagReport  = 33 // request: reply fulls and errors of the flood
)

var scenarios = map[string]func(){
	"both":      both,
	"copy":      copyScenario,
	"order":     order,
	"mailbox":   mailbox,
	"gone":      gone,
	"exits":     exits,
	"selective": selective,
	"linkdie":   linkdie,
	"linktrap":  linktrap,
	"linkrace":  linkrace,
	"hold":      hold,
	"misc":      misc,
	"quota":     quota,
}

var failed bool

func main() {
	if len(os.Args) < 2 {
		child()
		return
	}
	run, ok := scenarios[os.Args[1]]
	if !ok {
		fmt.Printf("FAIL args: no scenario %q\n", os.Args[1])
		os.Exit(2)
	}
	run()
	if failed {
		os.Exit(1)
	}
}

// check prints the outcome of one check.
func check(name string, ok bool, format string, args ...any) {
	if ok {
		fmt.Printf("ok %s\n", name)
		return
	}
	failed = true
	fmt.Printf("FAIL %s: %s\n", name, fmt.Sprintf(format, args...))
}

// must stops the scenario on an error it cannot go on without.
func must[T any](v T, err error) T {
	if err != nil {
		fmt.Printf("FAIL fatal: %v\n", err)
		os.Exit(1)
	}
	return v
}

// within returns a context whose deadline is d from now.
func within(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func spawner() isle.Handle { return must(isle.Grant("spawner")) }

// spawnChild starts this module again in a child role.
func spawnChild(role string, opts ...isle.SpawnOption) isle.Process {
	return must(isle.Spawn(spawner(), "sdkcmd", []byte(role), append(opts, isle.WithStdio())...))
}

func u32(v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

// seqMsg is the payload of a numbered message.
func seqMsg(from, seq uint32) []byte { return u32(from, seq) }

func u32at(b []byte, off int) uint32 {
	if len(b) < off+4 {
		return 0xFFFFFFFF
	}
	return binary.LittleEndian.Uint32(b[off:])
}
