//go:build wasip1

package isle

import "unsafe"

//go:wasmimport isle http_request
func abiHTTPRequest(h uint32, req unsafe.Pointer, reqLen uint32, buf unsafe.Pointer, bufCap uint32, timeout int64, in *httpInfo) int32
