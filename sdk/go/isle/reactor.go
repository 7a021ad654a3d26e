//go:build wasip1

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

var handler func(Message)

// inboxSize is the payload the kernel writes before each turn. Bigger
// payloads are read with msg_read.
const inboxSize = 64 << 10

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

// isleHandle is the reactor entry point the kernel calls for each message.
//
//go:wasmexport isle_handle
func isleHandle(n, tag, aux, nhandles uint32) {
	if handler == nil {
		panic("isle: this reactor has no handler: call isle.HandleFunc from an init function, since main does not run in a module built with -buildmode=c-shared")
	}
	handler(turnMessage(n, tag, aux, nhandles))
}

// turnMessage reads the message of the current turn: the kernel has put
// its payload's first inboxSize bytes in inbox.
func turnMessage(n, tag, aux, nhandles uint32) Message {
	mu.Lock()
	defer mu.Unlock()
	m := Message{Tag: tag, aux: aux}
	if n > 0 {
		m.Data = make([]byte, n)
		k := copy(m.Data, inbox[:min(n, inboxSize)])
		readRest(m.Data, k)
	}
	m.Handles = currentHandles(nhandles)
	m.setReply()
	return m
}
