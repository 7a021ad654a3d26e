//go:build wasip1

package isle

// isleHandle is the reactor entry point the kernel calls for each message.
//
//go:wasmexport isle_handle
func isleHandle(n, tag, aux, nhandles uint32) {
	if handler == nil {
		panic("isle: this reactor has no handler: call isle.HandleFunc from an init function, since main does not run in a module built with -buildmode=c-shared")
	}
	handler(turnMessage(n, tag, aux, nhandles))
	if tag == TagShutdown {
		Exit(0) // the handler had its turn to clean up
	}
}
