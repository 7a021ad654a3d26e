// Command pong is the other side of examples/pingpong: a Go reactor that
// answers pings, and that can spawn a second pong and volley with it.
//
//isle:reactor
package main

import (
	"encoding/binary"

	"github.com/isle-run/isle/sdk/go/isle"
)

const (
	tagPing   = 1
	tagPong   = 2
	tagVolley = 3
)

var (
	peer    isle.Process // whoever spawned this pong: gets tagPong for each plain ping
	partner isle.Process // the second pong, during a volley
	volley  isle.Message // the request that started the volley
	left    uint32
	payload []byte
)

// A reactor's main never runs: the handler is registered in init.
func init() { isle.HandleFunc(handle) }

func main() {}

func handle(m isle.Message) {
	switch m.Tag {
	case isle.TagInit:
		peer = isle.ProcessOf(m.Handles[0])
	case tagPing:
		if m.IsRequest() {
			m.Reply(tagPong, m.Data)
		} else {
			peer.Send(tagPong, m.Data)
		}
	case tagVolley:
		startVolley(m)
		return // keep m: its reply comes at the end of the volley
	case tagPong: // from the partner, during a volley
		if left--; left > 0 {
			partner.Send(tagPing, payload)
		} else {
			volley.Reply(tagVolley, nil)
		}
	}
	m.Release()
}

// startVolley spawns a partner pong, whose peer is this one, and sends it
// the first ping; each tagPong that comes back sends the next.
func startVolley(m isle.Message) {
	left = binary.LittleEndian.Uint32(m.Data)
	payload = make([]byte, binary.LittleEndian.Uint32(m.Data[4:]))
	volley = m
	if left == 0 {
		m.Reply(tagVolley, nil)
		return
	}
	if partner.IsZero() {
		spawner, err := isle.Grant("spawner")
		if err != nil {
			panic(err)
		}
		partner, err = isle.Spawn(spawner, "pong", nil, isle.Linked(), isle.WithHandles(isle.Self().Handle()))
		if err != nil {
			panic(err)
		}
	}
	partner.Send(tagPing, payload)
}
