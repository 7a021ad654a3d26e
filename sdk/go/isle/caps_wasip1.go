//go:build wasip1

package isle

import "unsafe"

//go:wasmimport isle dup
func abiDup(h, rights uint32) int32

//go:wasmimport isle inspect
func abiInspect(h uint32, info unsafe.Pointer) int32

//go:wasmimport isle revocable
func abiRevocable(h, rights uint32, revoker unsafe.Pointer) int32

//go:wasmimport isle revoke
func abiRevoke(revoker uint32) int32

//go:wasmimport isle clock_now
func abiClockNow(h, which uint32, out unsafe.Pointer) int32

//go:wasmimport isle random_fill
func abiRandomFill(h uint32, buf unsafe.Pointer, n uint32) int32

//go:wasmimport isle log_write
func abiLogWrite(h uint32, level int32, msg string) int32
