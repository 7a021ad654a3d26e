package httpcap

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/httpwire"
	"github.com/isle-run/isle/internal/kernel"
)

// Funcs is the HTTP capability's part of the isle host module.
func Funcs() []abi.Func {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	return []abi.Func{{
		Name:    "http_request",
		Params:  []api.ValueType{i32, i32, i32, i32, i32, i64, i32},
		Results: abi.RetI32,
		Fn:      request,
	}}
}

// request(h, req_ptr, req_len, buf_ptr, buf_cap, timeout, info_ptr) sends
// the encoded request and copies the encoded response to the buffer,
// writing {len, status} as two u32 at info_ptr. The response becomes the
// current message, so a response longer than the buffer returns ETOOBIG
// with info.len set and the rest is read with msg_read, as after call.
func request(ctx context.Context, mod api.Module, stack []uint64) {
	c := abi.Enter(ctx, mod, "http_request")
	h := uint32(stack[0])
	reqPtr, reqLen := uint32(stack[1]), uint32(stack[2])
	bufPtr, bufCap := uint32(stack[3]), uint32(stack[4])
	timeout := int64(stack[5])
	infoPtr := uint32(stack[6])
	raw := c.Bytes(reqPtr, reqLen)
	c.Bytes(bufPtr, bufCap) // check every range before the request leaves
	c.Bytes(infoPtr, 8)
	obj, code := c.Use(h, kernel.KindHTTP, kernel.RightUse)
	if code != 0 {
		abi.SetResult(stack, code)
		return
	}
	if reqLen > MaxRequest {
		abi.SetResult(stack, abi.ETooBig)
		return
	}
	req, err := httpwire.ParseRequest(raw)
	if err != nil {
		c.Misuse("%v", err)
	}
	u, err := Check(&req)
	if err != nil {
		c.Misuse("%v", err)
	}
	if timeout == 0 {
		abi.SetResult(stack, abi.ETimeout) // as everywhere in the ABI: 0 does not wait
		return
	}
	// The body aliases guest memory; the transport may still read it after
	// a kill has returned control to the guest's teardown.
	req.Body = bytes.Clone(req.Body)
	var resp []byte
	var status int
	c.P.Blocking(func() {
		resp, status, err = obj.(*Client).Do(c.P.KillContext(), &req, u, time.Duration(max(timeout, 0)))
	})
	c.P.CheckKilled()
	if err != nil {
		abi.SetResult(stack, c.Code(err))
		return
	}
	c.P.SetCurrent(&kernel.Message{Data: resp})
	n := uint32(len(resp))
	copy(c.Bytes(bufPtr, min(n, bufCap)), resp)
	info := c.Bytes(infoPtr, 8)
	binary.LittleEndian.PutUint32(info[0:], n)
	binary.LittleEndian.PutUint32(info[4:], uint32(status))
	if n > bufCap {
		abi.SetResult(stack, abi.ETooBig)
		return
	}
	abi.SetResult(stack, int32(n))
}
