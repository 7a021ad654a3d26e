// Command pingpong is two Go reactors from one module trading messages,
// like testdata/c/pingpong.c. The host calls the first ("ping") with a
// round-trip count and a payload size; it spawns a second ("pong"),
// passing its own handle in the init message, volleys, and answers the
// host's call when the count is done. Built with -buildmode=c-shared.
package main

import (
	"encoding/binary"

	"github.com/isle-run/isle/sdk/go/isle"
)

const (
	tagStart = 1
	tagPing  = 2
	tagPong  = 3
)

var (
	peer    isle.Process
	waiting isle.Message // the host's request
	left    uint32
	payload []byte
)

func init() { isle.HandleFunc(handle) }

func main() {}

func handle(m isle.Message) {
	switch m.Tag {
	case isle.TagInit: // pong: remember ping
		peer = isle.ProcessOf(m.Handles[0])
	case tagStart: // ping: the host's call
		waiting = m
		left = binary.LittleEndian.Uint32(m.Data)
		payload = make([]byte, binary.LittleEndian.Uint32(m.Data[4:]))
		if peer.IsZero() {
			sp, err := isle.Grant("spawner")
			if err != nil {
				panic(err)
			}
			if peer, err = isle.Spawn(sp, "pingpong", nil, isle.WithHandles(isle.Self().Handle())); err != nil {
				panic(err)
			}
		}
		peer.Send(tagPing, payload)
	case tagPing: // pong: answer with what came
		peer.Send(tagPong, m.Data)
		m.Release() // reuse the buffer for the next message: no garbage
	case tagPong: // ping: one round trip done
		m.Release()
		if left--; left > 0 {
			peer.Send(tagPing, payload)
		} else {
			waiting.Reply(tagStart, nil)
		}
	}
}
