package isle

import (
	"structs"
	"unsafe"
)

// What the declarations of the isle host module (abi_wasip1.go) share
// with the rest of the package. Buffers are passed as unsafe.Pointer plus
// a length; Go's heap does not move, and the pointer keeps the buffer
// alive for the call.

// info is struct isle_info: what recv and call write about a message.
type info struct {
	_        structs.HostLayout
	len      uint32
	tag      uint32
	aux      uint32
	nhandles uint32
}

// Flags.
const (
	spawnLink   = 1
	spawnStdio  = 2
	sendNoBlock = 1
	sendCopy    = 2
)

// bytesPtr returns b's data pointer and length for a host call.
func bytesPtr(b []byte) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))
}

// handlesPtr returns hs's data pointer and count for a host call.
func handlesPtr(hs []Handle) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.SliceData(hs)), uint32(len(hs))
}
