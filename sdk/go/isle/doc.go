// Package isle is the guest side of isle for Go programs: the isle host
// ABI (docs/ABI.md in the isle repository) as ordinary Go, with typed
// errors, contexts for timeouts, and reactors.
//
// Build guests with GOOS=wasip1 GOARCH=wasm. On other platforms the
// package still builds, so that guest code can be vetted and its pure
// parts tested, but every call into the kernel panics.
//
// # Processes and messages
//
// A process reaches others only through handles: Self, the children it
// Spawns, handles that arrive in messages (Message.Handles), and the
// grants it started with (Grant). Messages are copied, carry a tag and up
// to MaxHandles handles, and arrive in order from any one sender. Send
// waits while the receiver's mailbox is full; TrySend fails with ErrFull
// instead. Call sends a request and waits for its Reply, and fails with
// ErrGone at once if the callee ends or drops the request.
//
// A command, built the usual way, runs main and receives with Receive:
//
//	package main
//
//	import (
//		"context"
//		"fmt"
//		"time"
//
//		"github.com/isle-run/isle/sdk/go/isle"
//	)
//
//	func main() {
//		spawner, err := isle.Grant("spawner")
//		if err != nil {
//			panic(err) // not granted a spawner
//		}
//		worker, err := isle.Spawn(spawner, "worker", nil, isle.Linked())
//		if err != nil {
//			panic(err)
//		}
//		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
//		defer cancel()
//		r, err := worker.Call(ctx, 1, []byte("hello"))
//		if err != nil {
//			panic(err) // isle.ErrTimeout, isle.ErrGone, ...
//		}
//		fmt.Printf("%s\n", r.Data)
//	}
//
// # Reactors
//
// A reactor has no main loop: the kernel calls its handler once per
// message and it costs nothing while idle. Build it with
// -buildmode=c-shared (isle run does so for a main package with a line
// "//isle:reactor") and register the handler in init, because main never
// runs in such a module:
//
//	//isle:reactor
//	package main
//
//	import "github.com/isle-run/isle/sdk/go/isle"
//
//	func init() {
//		isle.HandleFunc(func(m isle.Message) {
//			if m.IsRequest() {
//				m.Reply(m.Tag, m.Data) // echo
//			}
//		})
//	}
//
//	func main() {}
//
// # Memory
//
// Each message's Data is its own allocation, so a busy process makes
// garbage. A handler that is done with a message can Release it, and the
// next message reuses the buffer: in a ping-pong of 4 KiB messages
// between two Go reactors that cut the time per round trip by two thirds.
//
// # Blocking and time
//
// A wasm process has one thread. While Receive, Call or a Send to a full
// mailbox waits in the kernel, no other goroutine of the process runs.
// The wait ends at the context's deadline, measured on the process's own
// clock: the host's clock if the process was granted it, else a virtual
// one. Cancelling a context cannot interrupt a wait already under way, as
// nothing in the process runs to notice; use a deadline.
//
// # Exits
//
// When a linked or monitored process ends, its ExitReason arrives as a
// TagExit or TagDown message (Message.ExitReason). A link kills the peer
// instead, unless it traps exits (TrapExits). Bugs are not errors: a
// handle that is not in the table, a pointer outside memory, or a system
// tag abandons the process at once, and its links and monitors are told.
package isle
