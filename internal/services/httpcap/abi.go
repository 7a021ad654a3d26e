package httpcap

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/abi"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/httpwire"
	"github.com/isle-run/isle/internal/kernel"
)

// Kind is the HTTP egress capability's kind.
const Kind capkind.Kind = 9

func init() {
	capkind.Register(&capkind.Descriptor{
		Kind:    Kind,
		Name:    "http",
		Summary: "HTTP requests to an allowlist of origins",
		Rights:  capkind.Use,
		Fields: []capkind.Field{{Key: "allow", Type: capkind.Strings, Required: true,
			Example: `allow = ["https://api.example.com"]`, Doc: "the origins it reaches, `scheme://host[:port]`"}},
		Parse: parse,
		Open:  func(_ *capkind.Env, spec any, _ isleapi.Rights) (any, func(), error) { return spec.(*Grant).open() },
		Funcs: []capkind.Func{{
			Name:   "http_request",
			Params: []capkind.Param{capkind.I32("h"), capkind.I32("req_ptr"), capkind.I32("req_len"), capkind.I32("buf_ptr"), capkind.I32("buf_cap"), capkind.I64("timeout"), capkind.I32("info_ptr")},
			Result: true,
			Fn:     request,
		}},
		Hint: "grant an http capability with an allowlist",
	})
}

func parse(t *capkind.Table) (any, error) {
	allow := t.Strings("allow")
	for _, o := range allow {
		if _, _, err := Origin(o); err != nil {
			var oe *OriginError
			errors.As(err, &oe)
			return nil, capkind.Errorf("allow", "%q is not an origin: %s", o, oe.Reason)
		}
	}
	return NewGrant(allow), nil
}

// Grant is an HTTP capability before it is opened: its allowlist, and the
// client that every process granted it shares, so that they share its
// pool of connections. The client is made at the first grant, and its
// idle connections are closed when the last process holding it ends.
type Grant struct {
	allow []string
	once  sync.Once
	c     *Client
	err   error
	mu    sync.Mutex
	users int
}

// NewGrant returns a grant of the origins in allow, which are checked
// when it is first opened.
func NewGrant(allow []string) *Grant { return &Grant{allow: append([]string(nil), allow...)} }

func (g *Grant) open() (any, func(), error) {
	g.once.Do(func() { g.c, g.err = New(g.allow) })
	if g.err != nil {
		return nil, nil, g.err
	}
	g.mu.Lock()
	g.users++
	g.mu.Unlock()
	return g.c, func() {
		g.mu.Lock()
		g.users--
		last := g.users == 0
		g.mu.Unlock()
		if last {
			_ = g.c.Close()
		}
	}, nil
}

// request(h, req_ptr, req_len, buf_ptr, buf_cap, timeout, info_ptr) sends
// the encoded request and copies the encoded response to the buffer,
// writing {len, status} as two u32 at info_ptr. The response becomes the
// current message, so a response longer than the buffer returns ETOOBIG
// with info.len set and the rest is read with msg_read, as after call.
// The response is charged to the process's memory as it arrives: one
// its tree cannot hold fails with ELIMIT.
func request(ctx context.Context, mod api.Module, stack []uint64) {
	c := abi.Enter(ctx, mod, "http_request")
	a := abi.ArgsOf(stack)
	h, reqPtr, reqLen, bufPtr, bufCap, timeout, infoPtr := a.U32(), a.U32(), a.U32(), a.U32(), a.U32(), a.I64(), a.U32()
	raw := c.Bytes(reqPtr, reqLen)
	c.Bytes(bufPtr, bufCap) // check every range before the request leaves
	c.Bytes(infoPtr, 8)
	obj, code := c.Use(h, Kind, isleapi.RightUse)
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
	// The request's connection is a host descriptor, charged to the tree
	// while the request lasts (idle ones are the client's, shared).
	release, err := c.P.HoldFile()
	if err != nil {
		abi.SetResult(stack, c.Code(err))
		return
	}
	var resp []byte
	var status int
	c.P.Blocking(func() {
		defer release()
		resp, status, err = obj.(*Client).DoWithin(c.P.KillContext(), &req, u, time.Duration(max(timeout, 0)), reserveFor(c.P))
	})
	// Held from here as the current message, charged as one (SetCurrent).
	defer c.P.UnchargeHost(int64(len(resp)))
	c.P.CheckKilled()
	if err != nil {
		abi.SetResult(stack, c.Code(err))
		return
	}
	c.P.SetCurrent(&kernel.Message{Data: resp})
	n := uint32(len(resp))
	c.P.ChargeBytes(len(resp)) // read off the wire, then copied
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

// reserveFor charges what a response to p holds to p's memory, or gives
// it back for a negative n.
func reserveFor(p *kernel.Process) func(n int64) error {
	return func(n int64) error {
		if n < 0 {
			p.UnchargeHost(-n)
			return nil
		}
		return p.ChargeHost(n)
	}
}
