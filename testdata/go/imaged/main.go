// Command imaged is a Go reactor for the image tests: its init leaves
// state a clone must see (its arguments, a time, a draw from the runtime's
// generator), and its requests show what a clone shares with its image
// and what it must not.
//
//isle:reactor
package main

import (
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/isle-run/isle/sdk/go/isle"
)

// Requests.
const (
	tagArgs     = 1 // reply: os.Args as seen at init, space-separated
	tagNote     = 2 // append the payload to the notes; reply: how many notes (u32)
	tagNotes    = 3 // reply: the notes
	tagSince    = 4 // reply: time.Since(the time read at init), ns (i64)
	tagEntropy  = 5 // reply: 16 bytes of crypto/rand
	tagRuntime  = 6 // reply: a draw from math/rand/v2 now (u64)
	tagInitDraw = 7 // reply: the draw from math/rand/v2 made at init (u64)
)

var (
	initArgs = strings.Join(os.Args, " ")
	initTime = time.Now()
	initDraw = mrand.Uint64()
	notes    []string
)

func init() { isle.HandleFunc(handle) }

func main() {}

func handle(m isle.Message) {
	if !m.IsRequest() {
		return // the init message
	}
	switch m.Tag {
	case tagArgs:
		m.Reply(tagArgs, []byte(initArgs))
	case tagNote:
		notes = append(notes, string(m.Data))
		m.Reply(tagNote, binary.LittleEndian.AppendUint32(nil, uint32(len(notes))))
	case tagNotes:
		m.Reply(tagNotes, []byte(strings.Join(notes, ",")))
	case tagSince:
		m.Reply(tagSince, binary.LittleEndian.AppendUint64(nil, uint64(time.Since(initTime))))
	case tagEntropy:
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		m.Reply(tagEntropy, b)
	case tagRuntime:
		m.Reply(tagRuntime, binary.LittleEndian.AppendUint64(nil, mrand.Uint64()))
	case tagInitDraw:
		m.Reply(tagInitDraw, binary.LittleEndian.AppendUint64(nil, initDraw))
	default:
		m.Reply(m.Tag, m.Data)
	}
}
