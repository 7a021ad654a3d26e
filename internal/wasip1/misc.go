package wasip1

import (
	"io"

	"github.com/tetratelabs/wazero/api"
)

// args_get and environ_get write pointers into argv, then the strings,
// each NUL-terminated, into buf.

func argsGet(s *State, mem api.Memory, st []uint64) Errno {
	return putStrings(mem, uint32(st[0]), uint32(st[1]), s.args, nil)
}

func argsSizesGet(s *State, mem api.Memory, st []uint64) Errno {
	n, size := sizes(s.args, nil)
	if errno := putU32(mem, uint32(st[0]), n); errno != 0 {
		return errno
	}
	return putU32(mem, uint32(st[1]), size)
}

func environGet(s *State, mem api.Memory, st []uint64) Errno {
	return putStrings(mem, uint32(st[0]), uint32(st[1]), nil, s.env)
}

func environSizesGet(s *State, mem api.Memory, st []uint64) Errno {
	n, size := sizes(nil, s.env)
	if errno := putU32(mem, uint32(st[0]), n); errno != 0 {
		return errno
	}
	return putU32(mem, uint32(st[1]), size)
}

func sizes(args []string, env [][2]string) (n, size uint32) {
	for _, a := range args {
		size += uint32(len(a)) + 1
	}
	for _, kv := range env {
		size += uint32(len(kv[0])+len(kv[1])) + 2
	}
	return uint32(len(args) + len(env)), size
}

func putStrings(mem api.Memory, ptrs, buf uint32, args []string, env [][2]string) Errno {
	n, size := sizes(args, env)
	pv, errno := read(mem, ptrs, n*4)
	if errno != 0 {
		return errno
	}
	bv, errno := read(mem, buf, size)
	if errno != 0 {
		return errno
	}
	off := 0
	item := func(i int, parts ...string) {
		put32(pv[i*4:], buf+uint32(off))
		for j, p := range parts {
			if j > 0 {
				bv[off] = '='
				off++
			}
			off += copy(bv[off:], p)
		}
		bv[off] = 0
		off++
	}
	for i, a := range args {
		item(i, a)
	}
	for i, kv := range env {
		item(len(args)+i, kv[0], kv[1])
	}
	return 0
}

// Clocks. The CPU-time clocks are EBADF, as in wasmtime: isle measures a
// process in fuel, not in host CPU time.

func clockResGet(s *State, mem api.Memory, st []uint64) Errno {
	switch uint32(st[0]) {
	case clockRealtime, clockMonotonic:
		return putU64(mem, uint32(st[1]), uint64(s.clock.Resolution()))
	case clockProcessCputimeID, clockThreadCputimeID:
		return errBadf
	}
	return errInval
}

func clockTimeGet(s *State, mem api.Memory, st []uint64) Errno {
	id := uint32(st[0])
	switch id {
	case clockRealtime, clockMonotonic:
		return putU64(mem, uint32(st[2]), uint64(s.clock.Now(id)))
	case clockProcessCputimeID, clockThreadCputimeID:
		return errBadf
	}
	return errInval
}

// randomGet fills the buffer from the process's entropy. Without any, or
// if the source fails, it is EIO.
func randomGet(s *State, mem api.Memory, st []uint64) Errno {
	b, errno := read(mem, uint32(st[0]), uint32(st[1]))
	if errno != 0 {
		return errno
	}
	if s.random == nil {
		return errIO
	}
	s.host.ChargeBytes(len(b))
	if _, err := io.ReadFull(s.random, b); err != nil {
		return errIO
	}
	return 0
}

// procRaise: there are no signals, as in wasmtime.
func procRaise(*State, api.Memory, []uint64) Errno { return errNotsup }

// schedYield is where a kill reaches a guest spinning on it.
func schedYield(s *State, _ api.Memory, _ []uint64) Errno {
	s.host.CheckKilled()
	return 0
}

// Sockets. isle grants none, so no descriptor is a socket: a valid
// descriptor is ENOTSOCK and an invalid one EBADF.

func notSocket(s *State, fd uint64) Errno {
	if _, errno := s.get(uint32(fd)); errno != 0 {
		return errno
	}
	return errNotsock
}

func sockAccept(s *State, _ api.Memory, st []uint64) Errno   { return notSocket(s, st[0]) }
func sockRecv(s *State, _ api.Memory, st []uint64) Errno     { return notSocket(s, st[0]) }
func sockSend(s *State, _ api.Memory, st []uint64) Errno     { return notSocket(s, st[0]) }
func sockShutdown(s *State, _ api.Memory, st []uint64) Errno { return notSocket(s, st[0]) }
