package wasip1

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// ModuleName is the import module of WASI preview1.
const ModuleName = "wasi_snapshot_preview1"

// Lookup finds the calling process's state from the context a host
// function receives. It returns nil for a caller that has none.
type Lookup func(ctx context.Context) *State

// fn is a WASI function: it reads its parameters from stack and returns
// the errno.
type fn func(s *State, mem api.Memory, stack []uint64) Errno

type def struct {
	name   string
	params string // one letter per parameter: i for i32, I for i64
	f      fn
}

// functions is the whole of WASI preview1, in the witx order.
var functions = []def{
	{"args_get", "ii", argsGet},
	{"args_sizes_get", "ii", argsSizesGet},
	{"environ_get", "ii", environGet},
	{"environ_sizes_get", "ii", environSizesGet},
	{"clock_res_get", "ii", clockResGet},
	{"clock_time_get", "iIi", clockTimeGet},
	{"fd_advise", "iIIi", fdAdvise},
	{"fd_allocate", "iII", fdAllocate},
	{"fd_close", "i", fdClose},
	{"fd_datasync", "i", fdDatasync},
	{"fd_fdstat_get", "ii", fdFdstatGet},
	{"fd_fdstat_set_flags", "ii", fdFdstatSetFlags},
	{"fd_fdstat_set_rights", "iII", fdFdstatSetRights},
	{"fd_filestat_get", "ii", fdFilestatGet},
	{"fd_filestat_set_size", "iI", fdFilestatSetSize},
	{"fd_filestat_set_times", "iIIi", fdFilestatSetTimes},
	{"fd_pread", "iiiIi", fdPread},
	{"fd_prestat_get", "ii", fdPrestatGet},
	{"fd_prestat_dir_name", "iii", fdPrestatDirName},
	{"fd_pwrite", "iiiIi", fdPwrite},
	{"fd_read", "iiii", fdRead},
	{"fd_readdir", "iiiIi", fdReaddir},
	{"fd_renumber", "ii", fdRenumber},
	{"fd_seek", "iIii", fdSeek},
	{"fd_sync", "i", fdSync},
	{"fd_tell", "ii", fdTell},
	{"fd_write", "iiii", fdWrite},
	{"path_create_directory", "iii", pathCreateDirectory},
	{"path_filestat_get", "iiiii", pathFilestatGet},
	{"path_filestat_set_times", "iiiiIIi", pathFilestatSetTimes},
	{"path_link", "iiiiiii", pathLink},
	{"path_open", "iiiiiIIii", pathOpen},
	{"path_readlink", "iiiiii", pathReadlink},
	{"path_remove_directory", "iii", pathRemoveDirectory},
	{"path_rename", "iiiiii", pathRename},
	{"path_symlink", "iiiii", pathSymlink},
	{"path_unlink_file", "iii", pathUnlinkFile},
	{"poll_oneoff", "iiii", pollOneoff},
	{"proc_raise", "i", procRaise},
	{"sched_yield", "", schedYield},
	{"random_get", "ii", randomGet},
	{"sock_accept", "iii", sockAccept},
	{"sock_recv", "iiiiii", sockRecv},
	{"sock_send", "iiiii", sockSend},
	{"sock_shutdown", "ii", sockShutdown},
}

// NewModule builds the "wasi_snapshot_preview1" host module. Build it once
// per runtime: every function finds its caller's state through lookup.
func NewModule(rt wazero.Runtime, lookup Lookup) wazero.HostModuleBuilder {
	b := rt.NewHostModuleBuilder(ModuleName)
	for _, d := range functions {
		b.NewFunctionBuilder().
			WithGoModuleFunction(wrap(d, lookup), types(d.params), []api.ValueType{api.ValueTypeI32}).
			WithName(d.name).
			Export(d.name)
	}
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(procExit), []api.ValueType{api.ValueTypeI32}, nil).
		WithName("proc_exit").
		Export("proc_exit")
	return b
}

func types(sig string) []api.ValueType {
	out := make([]api.ValueType, len(sig))
	for i, c := range sig {
		switch c {
		case 'i':
			out[i] = api.ValueTypeI32
		case 'I':
			out[i] = api.ValueTypeI64
		default:
			panic(fmt.Sprintf("wasip1: bad signature %q", sig))
		}
	}
	return out
}

func wrap(d def, lookup Lookup) api.GoModuleFunc {
	f := d.f
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		s := lookup(ctx)
		if s == nil {
			stack[0] = uint64(errNosys)
			return
		}
		// Every call is a point where a kill lands, as isle's own are: a
		// guest looping on calls would otherwise meet it only at its next
		// fuel yield, which a call charged little work reaches late.
		s.host.CheckKilled()
		var mem api.Memory // nil for a module without one: every pointer is EFAULT
		if s.host.HasMemory() {
			mem = mod.Memory()
		}
		stack[0] = uint64(f(s, mem, stack))
	}
}

// procExit ends the process with a code, the way wazero's own does: the
// kernel recognises sys.ExitError.
func procExit(ctx context.Context, mod api.Module, stack []uint64) {
	code := uint32(stack[0])
	_ = mod.CloseWithExitCode(ctx, code)
	panic(sys.NewExitError(code))
}

// Memory helpers. A range outside linear memory is EFAULT; a module
// without a memory (mem nil) has one of no bytes.

func read(mem api.Memory, ptr, n uint32) ([]byte, Errno) {
	if mem == nil { // as a memory of no bytes
		if ptr == 0 && n == 0 {
			return nil, 0
		}
		return nil, errFault
	}
	b, ok := mem.Read(ptr, n)
	if !ok {
		return nil, errFault
	}
	return b, 0
}

func putU32(mem api.Memory, ptr, v uint32) Errno {
	if mem == nil || !mem.WriteUint32Le(ptr, v) {
		return errFault
	}
	return 0
}

func putU64(mem api.Memory, ptr uint32, v uint64) Errno {
	if mem == nil || !mem.WriteUint64Le(ptr, v) {
		return errFault
	}
	return 0
}

// maxPath bounds a path or symlink text, so that a guest cannot make the
// host copy its whole memory into a string. Linux's own limit is 4 KiB.
const maxPath = 64 << 10

// str reads a guest string (a path).
func str(mem api.Memory, ptr, n uint32) (string, Errno) {
	if n > maxPath {
		return "", errNametoolong
	}
	b, errno := read(mem, ptr, n)
	if errno != 0 {
		return "", errno
	}
	return string(b), 0
}

// iovecs is a guest's iovec array, checked whole before any I/O so that
// a bad entry is EFAULT with nothing done. It is read in place: a guest
// naming millions of buffers costs the host no memory.
type iovecs struct {
	mem api.Memory
	raw []byte
}

func readIovecs(mem api.Memory, ptr, n uint32) (iovecs, Errno) {
	if uint64(n)*sizeIovec > 1<<32 {
		return iovecs{}, errFault
	}
	raw, errno := read(mem, ptr, n*sizeIovec)
	if errno != 0 {
		return iovecs{}, errno
	}
	v := iovecs{mem, raw}
	for i := range v.len() {
		if _, errno := v.at(i); errno != 0 {
			return iovecs{}, errno
		}
	}
	return v, 0
}

func (v iovecs) len() int { return len(v.raw) / sizeIovec }

// at returns buffer i, a view of guest memory.
func (v iovecs) at(i int) ([]byte, Errno) {
	return read(v.mem, le32(v.raw[i*sizeIovec:]), le32(v.raw[i*sizeIovec+4:]))
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func le64(b []byte) uint64 {
	return uint64(le32(b)) | uint64(le32(b[4:]))<<32
}

func put64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

func put32(b []byte, v uint32) {
	for i := range 4 {
		b[i] = byte(v >> (8 * i))
	}
}

func put16(b []byte, v uint16) {
	b[0], b[1] = byte(v), byte(v>>8)
}
