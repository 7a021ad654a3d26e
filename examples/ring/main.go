// Command ring spawns a ring of N C reactors (node/node.c), passes a
// token M times around it, and prints the time per hop. See README.md.
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

// Tags, shared with node/node.c.
const (
	tagNext  = 1 // carries the handle of the next node
	tagToken = 2 // payload: hops still to go (u32)
	tagDone  = 3 // the token has made its last hop
)

func main() {
	n := flag.Int("n", 1000, "processes in the ring")
	m := flag.Int("m", 100, "laps of the token")
	flag.Parse()
	if *n < 1 || *m < 1 || uint64(*n)*uint64(*m) > 1<<32-1 {
		fail("-n and -m must be at least 1, and n×m below 2^32")
	}
	spawner, err := isle.Grant("spawner")
	if errors.Is(err, isle.ErrNotFound) {
		fail("no spawner granted: run it as isle run --spawn node=examples/ring/node.wasm examples/ring (see README.md)")
	}

	start := time.Now()
	nodes := make([]isle.Process, *n)
	for i := range nodes {
		// Each node gets a handle to this process, to report the end.
		nodes[i], err = isle.Spawn(spawner, "node", nil, isle.Linked(), isle.WithHandles(isle.Self().Handle()))
		if err != nil {
			fail("spawn node %d: %v", i, err)
		}
	}
	spawned := time.Since(start)
	for i, p := range nodes {
		next := nodes[(i+1)%len(nodes)]
		// A copy: this process keeps its own handle to every node.
		if err := p.Send(tagNext, nil, isle.WithHandles(next.Handle()), isle.CopyHandles()); err != nil {
			fail("send next to node %d: %v", i, err)
		}
	}

	run(nodes[0], *n) // one lap to warm up: every node has handled its set-up messages after it
	hops := *n * *m
	elapsed := run(nodes[0], hops)
	fmt.Printf("ring: spawned %d C reactors in %v (%v each)\n", *n, spawned.Round(time.Microsecond), spawned/time.Duration(*n))
	fmt.Printf("ring: %d laps, %d hops in %v: %v per hop\n", *m, hops, elapsed.Round(time.Microsecond), elapsed/time.Duration(hops))
}

// run sends the token for hops hops and waits until it has made them.
func run(first isle.Process, hops int) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	if err := first.Send(tagToken, binary.LittleEndian.AppendUint32(nil, uint32(hops))); err != nil {
		fail("send token: %v", err)
	}
	if _, err := isle.Receive(ctx, isle.MatchTag(tagDone)); err != nil {
		fail("wait for the token: %v", err)
	}
	return time.Since(start)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ring: "+format+"\n", args...)
	os.Exit(1)
}
