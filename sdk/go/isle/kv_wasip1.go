//go:build wasip1

package isle

import "unsafe"

// The key-value functions of the isle host module (docs/ABI.md,
// "Key-value").

//go:wasmimport isle kv_get
func abiKVGet(h uint32, key string, buf unsafe.Pointer, bufCap uint32) int32

//go:wasmimport isle kv_put
func abiKVPut(h uint32, key string, value unsafe.Pointer, n uint32) int32

//go:wasmimport isle kv_delete
func abiKVDelete(h uint32, key string) int32

//go:wasmimport isle kv_list
func abiKVList(h uint32, prefix string, after string, buf unsafe.Pointer, bufCap uint32) int32
