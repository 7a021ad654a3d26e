// Command reactor is a Go reactor for the SDK tests, built with
// -buildmode=c-shared. It answers calls by tag, and keeps what plain
// messages bring so that the tests can ask about them afterwards.
package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/isle-run/isle/sdk/go/isle"
)

// Requests.
const (
	tagCount    = 2 // reply: plain messages (u32), order violations (u32)
	tagStored   = 3 // reply: every tagStore payload, concatenated
	tagSpawnCmd = 4 // spawn the command "sdkcmd" with the request as its role; reply with what it did
	tagMainRan  = 5 // reply "true" if main.main ran, which it must not
	tagExit     = 6 // exit with the code in the request, without replying
	tagDecline  = 7 // drop the request unanswered
	tagBigReply = 8 // try a reply over the limit, then answer with what that returned
	// Any other request is echoed back, tag and payload.
)

// Plain messages.
const (
	tagStore = 10 // keep the payload
	tagSeq   = 11 // payload: sender u32, sequence u32; checks per-sender order
	tagHello = 20 // what the spawned command sends back
)

var (
	mainRan    bool
	plain      uint32
	violations uint32
	stored     []byte
	next       = map[uint32]uint32{} // sender -> next expected sequence
)

func init() { isle.HandleFunc(handle) }

func main() { mainRan = true }

func handle(m isle.Message) {
	if m.Tag >= isle.TagSystem {
		return // the init message
	}
	if !m.IsRequest() {
		plain++
		switch m.Tag {
		case tagStore:
			stored = append(stored, m.Data...)
		case tagSeq:
			from, seq := binary.LittleEndian.Uint32(m.Data), binary.LittleEndian.Uint32(m.Data[4:])
			if seq != next[from] {
				violations++
			}
			next[from] = seq + 1
		}
		return
	}
	switch m.Tag {
	case tagCount:
		b := binary.LittleEndian.AppendUint32(nil, plain)
		m.Reply(tagCount, binary.LittleEndian.AppendUint32(b, violations))
	case tagStored:
		m.Reply(tagStored, stored)
	case tagSpawnCmd:
		m.Reply(tagSpawnCmd, []byte(spawnCommand(string(m.Data))))
	case tagMainRan:
		m.Reply(tagMainRan, []byte(fmt.Sprint(mainRan)))
	case tagExit:
		isle.Exit(binary.LittleEndian.Uint32(m.Data))
	case tagDecline:
		m.Decline()
	case tagBigReply:
		err := m.Reply(tagBigReply, make([]byte, isle.MaxMessage+1))
		m.Reply(tagBigReply, []byte(fmt.Sprint(err)))
	default:
		m.Reply(m.Tag, m.Data)
	}
}

// spawnCommand starts a command child from inside a turn, passing it this
// reactor's handle, and waits (blocking the turn) for what it sends and
// for its exit.
func spawnCommand(role string) string {
	spawner, err := isle.Grant("spawner")
	if err != nil {
		return "grant: " + err.Error()
	}
	child, err := isle.Spawn(spawner, "sdkcmd", []byte(role), isle.WithHandles(isle.Self().Handle()))
	if err != nil {
		return "spawn: " + err.Error()
	}
	ref, err := child.Monitor()
	if err != nil {
		return "monitor: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hello, err := isle.Receive(ctx, isle.MatchTag(tagHello))
	if err != nil {
		return "receive hello: " + err.Error()
	}
	down, err := isle.Receive(ctx, isle.MatchTag(isle.TagDown))
	if err != nil {
		return "receive down: " + err.Error()
	}
	r, _ := down.ExitReason()
	return fmt.Sprintf("hello=%q down=%s code=%d sameref=%v", hello.Data, r.Kind, r.Code, down.Ref() == ref)
}
