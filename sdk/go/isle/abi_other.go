//go:build !wasip1

package isle

import "unsafe"

// Outside a wasip1 guest there is no kernel to call. The package still
// builds, so that guest code can be vetted, and its pure parts tested, on
// any platform; every call into the ABI panics.

func noABI() int32 { panic("isle: the isle host ABI exists only in a GOOS=wasip1 guest") }

func abiSelf() int32             { return noABI() }
func abiGrant(name string) int32 { return noABI() }
func abiSpawn(spawner uint32, name string, init unsafe.Pointer, initLen uint32, handles unsafe.Pointer, nhandles uint32, flags uint32) int32 {
	return noABI()
}
func abiSend(to uint32, tag uint32, data unsafe.Pointer, n uint32, handles unsafe.Pointer, nhandles uint32, flags uint32) int32 {
	return noABI()
}
func abiRecv(buf unsafe.Pointer, bufCap uint32, match, mask uint32, timeout int64, in *info) int32 {
	return noABI()
}
func abiMsgRead(offset uint32, buf unsafe.Pointer, n uint32) int32 { return noABI() }
func abiMsgHandles(out unsafe.Pointer, n uint32) int32             { return noABI() }
func abiCall(to uint32, tag uint32, data unsafe.Pointer, n uint32, handles unsafe.Pointer, nhandles uint32, buf unsafe.Pointer, bufCap uint32, timeout int64, in *info) int32 {
	return noABI()
}
func abiReply(reply uint32, tag uint32, data unsafe.Pointer, n uint32, handles unsafe.Pointer, nhandles uint32) int32 {
	return noABI()
}
func abiInbox(buf unsafe.Pointer, n uint32) int32 { return noABI() }
func abiClose(h uint32) int32                     { return noABI() }
func abiKill(h uint32) int32                      { return noABI() }
func abiExit(code uint32)                         { noABI() }
func abiLink(h uint32) int32                      { return noABI() }
func abiUnlink(h uint32) int32                    { return noABI() }
func abiMonitor(h uint32) int32                   { return noABI() }
func abiDemonitor(ref uint32) int32               { return noABI() }
func abiTrapExits(on uint32) int32                { return noABI() }
