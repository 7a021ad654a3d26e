package isle

import "unsafe"

// A reactor has no main loop of its own: the kernel calls isle_handle
// once per message, one turn at a time, and the process costs nothing
// while its mailbox is empty. Build one with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o app.wasm .
//
// and register the handler from an init function: with c-shared the
// module's _initialize runs the runtime and every package's init, but
// never main.main.

//lint:ignore U1000 read by isle_handle, in reactor_wasip1.go
var handler func(Message)

// inboxSize is how much payload the kernel writes before each turn: a
// small message then needs no host call to read, and the rest of a bigger
// one is read straight into its own buffer with msg_read (measured: with
// a 64 KiB inbox, every byte was copied twice for no gain).
const inboxSize = 1 << 10

var inbox [inboxSize]byte

// HandleFunc makes this module a reactor that calls f once per message.
// Call it from an init function of package main (main.main never runs in
// a module built with -buildmode=c-shared) and leave main empty:
//
//	func init() { isle.HandleFunc(handle) }
//
//	func main() {}
//
// f runs to completion before the next message is handled. It may call
// anything in this package, blocking calls included. To end the process,
// call Exit. A panic in f abandons the process. Goroutines f starts run
// only while some turn is in progress.
func HandleFunc(f func(Message)) {
	handler = f
	abiInbox(unsafe.Pointer(&inbox[0]), inboxSize)
}

// turnMessage reads the message of the current turn: the kernel has put
// its payload's first inboxSize bytes in inbox.
//
//lint:ignore U1000 called by isle_handle, in reactor_wasip1.go
func turnMessage(n, tag, aux, nhandles uint32) Message {
	mu.Lock()
	defer mu.Unlock()
	m := Message{Tag: tag, aux: aux}
	if n > 0 {
		m.Data = alloc(n)
		k := copy(m.Data, inbox[:min(n, inboxSize)])
		readRest(m.Data, k)
	}
	m.Handles = currentHandles(nhandles)
	m.setReply()
	return m
}
