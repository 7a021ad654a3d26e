// Command pingpong trades messages with a reactor and prints the time of a
// round trip three ways: call and reply, send and receive, and between
// two reactors with no goroutine hand-off at all. See README.md.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/isle-run/isle/sdk/go/isle"
)

// Tags, shared with pong/main.go.
const (
	tagPing   = 1 // plain: answer with tagPong to the peer; request: reply
	tagPong   = 2
	tagVolley = 3 // request: spawn a second pong and trade n round trips with it
)

func main() {
	n := flag.Int("n", 100_000, "round trips to time in each `way`")
	size := flag.Int("size", 8, "payload size in `bytes`")
	flag.Parse()

	spawner, err := isle.Grant("spawner")
	if errors.Is(err, isle.ErrNotFound) {
		fail("no spawner granted: run it as isle run --spawn pong=examples/pingpong/pong examples/pingpong")
	}
	// Linked: if pong dies, so do we, and the other way round.
	pong, err := isle.Spawn(spawner, "pong", nil, isle.Linked(), isle.WithHandles(isle.Self().Handle()))
	if err != nil {
		fail("spawn pong: %v", err)
	}
	ctx := context.Background() // no deadline: pong is linked, so it cannot vanish unnoticed
	payload := make([]byte, *size)

	calls := timeIt(*n, func() {
		r, err := pong.Call(ctx, tagPing, payload)
		if err != nil {
			fail("call: %v", err)
		}
		r.Release() // reuse its buffer: no garbage per message
	})
	sends := timeIt(*n, func() {
		if err := pong.Send(tagPing, payload); err != nil {
			fail("send: %v", err)
		}
		r, err := isle.Receive(ctx, isle.MatchTag(tagPong))
		if err != nil {
			fail("receive: %v", err)
		}
		r.Release()
	})
	volley := binary.LittleEndian.AppendUint32(nil, uint32(*n))
	volley = binary.LittleEndian.AppendUint32(volley, uint32(*size))
	start := time.Now()
	if _, err := pong.Call(ctx, tagVolley, volley); err != nil {
		fail("volley: %v", err)
	}
	reactors := time.Since(start) / time.Duration(*n)

	fmt.Printf("pingpong: %d round trips of %d bytes each way\n", *n, *size)
	fmt.Printf("  call/reply,   command <-> reactor: %8v per round trip\n", calls)
	fmt.Printf("  send/receive, command <-> reactor: %8v per round trip\n", sends)
	fmt.Printf("  send/send,    reactor <-> reactor: %8v per round trip\n", reactors)
}

// timeIt runs f n times after a short warm-up and returns the mean time.
func timeIt(n int, f func()) time.Duration {
	for range min(n, 1000) {
		f()
	}
	start := time.Now()
	for range n {
		f()
	}
	return time.Since(start) / time.Duration(max(n, 1))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pingpong: "+format+"\n", args...)
	os.Exit(1)
}
