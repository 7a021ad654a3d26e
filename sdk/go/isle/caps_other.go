//go:build !wasip1

package isle

import "unsafe"

func abiDup(h, rights uint32) int32                               { return noABI() }
func abiInspect(h uint32, info unsafe.Pointer) int32              { return noABI() }
func abiRevocable(h, rights uint32, revoker unsafe.Pointer) int32 { return noABI() }
func abiRevoke(revoker uint32) int32                              { return noABI() }
func abiClockNow(h, which uint32, out unsafe.Pointer) int32       { return noABI() }
func abiRandomFill(h uint32, buf unsafe.Pointer, n uint32) int32  { return noABI() }
func abiLogWrite(h uint32, level int32, msg string) int32         { return noABI() }
