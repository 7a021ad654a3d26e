//go:build !wasip1

package isle

import "unsafe"

func abiKVGet(h uint32, key string, buf unsafe.Pointer, bufCap uint32) int32 { return noABI() }
func abiKVPut(h uint32, key string, value unsafe.Pointer, n uint32) int32    { return noABI() }
func abiKVDelete(h uint32, key string) int32                                 { return noABI() }
func abiKVList(h uint32, prefix string, after string, buf unsafe.Pointer, bufCap uint32) int32 {
	return noABI()
}
