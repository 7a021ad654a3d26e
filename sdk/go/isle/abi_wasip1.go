//go:build wasip1

package isle

import "unsafe"

// The isle host module, one declaration per function of docs/ABI.md.

//go:wasmimport isle self
func abiSelf() int32

//go:wasmimport isle grant
func abiGrant(name string) int32

//go:wasmimport isle spawn
func abiSpawn(spawner uint32, name string, init unsafe.Pointer, initLen uint32, handles unsafe.Pointer, nhandles uint32, flags uint32) int32

//go:wasmimport isle send
func abiSend(to uint32, tag uint32, data unsafe.Pointer, n uint32, handles unsafe.Pointer, nhandles uint32, flags uint32) int32

//go:wasmimport isle recv
func abiRecv(buf unsafe.Pointer, bufCap uint32, match, mask uint32, timeout int64, in *info) int32

//go:wasmimport isle msg_read
func abiMsgRead(offset uint32, buf unsafe.Pointer, n uint32) int32

//go:wasmimport isle msg_handles
func abiMsgHandles(out unsafe.Pointer, n uint32) int32

//go:wasmimport isle call
func abiCall(to uint32, tag uint32, data unsafe.Pointer, n uint32, handles unsafe.Pointer, nhandles uint32, buf unsafe.Pointer, bufCap uint32, timeout int64, in *info) int32

//go:wasmimport isle reply
func abiReply(reply uint32, tag uint32, data unsafe.Pointer, n uint32, handles unsafe.Pointer, nhandles uint32) int32

//go:wasmimport isle inbox
func abiInbox(buf unsafe.Pointer, n uint32) int32

//go:wasmimport isle close
func abiClose(h uint32) int32

//go:wasmimport isle kill
func abiKill(h uint32) int32

//go:wasmimport isle exit
func abiExit(code uint32)

//go:wasmimport isle link
func abiLink(h uint32) int32

//go:wasmimport isle unlink
func abiUnlink(h uint32) int32

//go:wasmimport isle monitor
func abiMonitor(h uint32) int32

//go:wasmimport isle demonitor
func abiDemonitor(ref uint32) int32

//go:wasmimport isle trap_exits
func abiTrapExits(on uint32) int32
