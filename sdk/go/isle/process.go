package isle

import (
	"context"
	"time"
)

// Process is a handle to a process: this one (Self), a child (Spawn), or
// one whose handle arrived in a message (ProcessOf). The zero Process
// names nothing.
type Process struct{ h Handle }

// ProcessOf wraps a handle that names a process, such as one received in
// Message.Handles. Using it with a handle of another kind is misuse.
func ProcessOf(h Handle) Process { return Process{h} }

// Handle returns the process's handle, for passing in a message with
// WithHandles.
func (p Process) Handle() Handle { return p.h }

// IsZero reports whether p names no process.
func (p Process) IsZero() bool { return p.h == 0 }

// Self returns the calling process, with every right. Send it to others
// (WithHandles plus CopyHandles, or a copy from each call) so they can
// reach this process.
func Self() Process { return Process{Handle(abiSelf())} }

// Grant returns the handle the process was started with under name, or
// ErrNotFound. A process that may spawn has its spawner under "spawner".
func Grant(name string) (Handle, error) {
	r := abiGrant(name)
	if r < 0 {
		return 0, Errno(r)
	}
	return Handle(r), nil
}

// SpawnOption configures Spawn: Linked, WithStdio, WithHandles.
type SpawnOption interface{ applySpawn(*msgConfig) }

// SendOption configures Send, TrySend, Call and Reply: WithHandles and
// CopyHandles.
type SendOption interface{ applySend(*msgConfig) }

// HandlesOption is both a SpawnOption and a SendOption.
type HandlesOption interface {
	SpawnOption
	SendOption
}

// msgConfig is what options set for one spawn or send.
type msgConfig struct {
	flags   uint32
	handles []Handle
}

type spawnFlag uint32

func (f spawnFlag) applySpawn(c *msgConfig) { c.flags |= uint32(f) }

// Linked links the child to the caller before it runs, so neither can die
// unnoticed, not even in the child's first instruction.
func Linked() SpawnOption { return spawnFlag(spawnLink) }

// WithStdio lets the child write to the caller's stdout and stderr.
// Without it the child's output goes nowhere.
func WithStdio() SpawnOption { return spawnFlag(spawnStdio) }

type handlesOption []Handle

func (h handlesOption) applySpawn(c *msgConfig) { c.handles = append(c.handles, h...) }
func (h handlesOption) applySend(c *msgConfig)  { c.handles = append(c.handles, h...) }

// WithHandles sends handles with the message (at most MaxHandles). They
// are moved: once the send succeeds they are gone from this process's
// table, unless the send uses CopyHandles. The receiver finds them, in its
// own numbering, in Message.Handles.
func WithHandles(hs ...Handle) HandlesOption { return handlesOption(hs) }

type copyOption struct{}

func (copyOption) applySend(c *msgConfig) { c.flags |= sendCopy }

// CopyHandles makes Send and TrySend copy the handles of WithHandles
// instead of moving them. Call and Reply always move, so they panic with
// it. A reply handle can only be moved.
func CopyHandles() SendOption { return copyOption{} }

func spawnConfig(opts []SpawnOption) msgConfig {
	var c msgConfig
	for _, o := range opts {
		o.applySpawn(&c)
	}
	return c
}

func sendConfig(opts []SendOption) msgConfig {
	var c msgConfig
	for _, o := range opts {
		o.applySend(&c)
	}
	return c
}

// Spawn starts a process from the module called module in the spawner's
// set and returns it, with every right. The child's first message is
// always an init message (TagInit) carrying init and the handles of
// WithHandles. Errors: ErrNotFound (no such module), ErrLimit (the node is
// full or this process has used its spawn quota), ErrTooBig.
func Spawn(spawner Handle, module string, init []byte, opts ...SpawnOption) (Process, error) {
	c := spawnConfig(opts)
	data, n := bytesPtr(init)
	hs, nh := handlesPtr(c.handles)
	r := abiSpawn(uint32(spawner), module, data, n, hs, nh, c.flags)
	if r < 0 {
		return Process{}, Errno(r)
	}
	return Process{Handle(r)}, nil
}

// Send delivers a copy of data to p's mailbox with tag (below TagSystem),
// waiting for room while the mailbox is full: backpressure, not loss. It
// fails with ErrGone if p has ended, ErrTooBig if data is over MaxMessage,
// ErrRights if the handle lacks the send right. Messages from one process
// to another arrive in the order they were sent.
func (p Process) Send(tag uint32, data []byte, opts ...SendOption) error {
	return p.send(tag, data, 0, opts)
}

// TrySend is Send without waiting: it fails with ErrFull when p's mailbox
// is full, and nothing is sent.
func (p Process) TrySend(tag uint32, data []byte, opts ...SendOption) error {
	return p.send(tag, data, sendNoBlock, opts)
}

func (p Process) send(tag uint32, data []byte, flags uint32, opts []SendOption) error {
	c := sendConfig(opts)
	d, n := bytesPtr(data)
	hs, nh := handlesPtr(c.handles)
	return errno(abiSend(uint32(p.h), tag, d, n, hs, nh, flags|c.flags))
}

// Call sends a request and waits for the reply until ctx's deadline (for
// ever if it has none). Errors: ErrTimeout; ErrGone as soon as nobody can
// answer any more (p ended, or dropped the request), however far off the
// deadline is; ErrTooBig, ErrRights. A context cancelled before the call
// returns its error; cancellation cannot interrupt a call under way (see
// the package documentation), only the deadline can.
func (p Process) Call(ctx context.Context, tag uint32, data []byte, opts ...SendOption) (Message, error) {
	c := sendConfig(opts)
	if c.flags&sendCopy != 0 {
		panic("isle: Call moves its handles; CopyHandles cannot be used with it")
	}
	t, err := timeoutOf(ctx)
	if err != nil {
		return Message{}, err
	}
	if t == 0 {
		return Message{}, ErrTimeout // no time to wait for a reply: do not send
	}
	mu.Lock()
	defer mu.Unlock()
	d, n := bytesPtr(data)
	hs, nh := handlesPtr(c.handles)
	var in info
	r := abiCall(uint32(p.h), tag, d, n, hs, nh, scratchPtr(), scratchSize, t, &in)
	return current(r, &in)
}

// Link links this process and p both ways: when either ends with anything
// but a normal exit with code 0, the other is killed too, unless it traps
// exits (TrapExits), in which case it receives a TagExit message. Linking
// to a process that has ended delivers that signal at once, with
// ExitNoProc. Needs the kill right: ErrRights.
func (p Process) Link() error { return errno(abiLink(uint32(p.h))) }

// Unlink removes the link with p, if there is one.
func (p Process) Unlink() error { return errno(abiUnlink(uint32(p.h))) }

// Monitor watches p one way: when p ends, this process receives one
// TagDown message whose Ref is the returned ref. Monitoring a process
// that has ended delivers TagDown at once, with ExitNoProc. Needs the
// monitor right: ErrRights.
func (p Process) Monitor() (Ref, error) {
	r := abiMonitor(uint32(p.h))
	if r < 0 {
		return 0, Errno(r)
	}
	return Ref(r), nil
}

// Kill ends p with reason "killed"; it cannot trap it. ErrGone if p has
// already ended, ErrRights without the kill right.
func (p Process) Kill() error { return errno(abiKill(uint32(p.h))) }

// Close gives up this handle to p. p itself runs on.
func (p Process) Close() error { return Close(p.h) }

// Close removes h from this process's handle table. Closing a request's
// reply handle fails its caller with ErrGone at once.
func Close(h Handle) error { return errno(abiClose(uint32(h))) }

// Demonitor cancels a monitor: no TagDown for ref arrives after it
// returns, even one already queued. As in Erlang, a ref whose TagDown has
// already been received, or that names no monitor, is no error: there is
// nothing left to cancel, and Demonitor returns nil.
func Demonitor(ref Ref) error { return errno(abiDemonitor(uint32(ref))) }

// TrapExits sets whether exit signals from linked processes arrive as
// TagExit messages (on) or kill this process (off, the default). It
// returns the previous setting. Kill cannot be trapped.
func TrapExits(on bool) (previous bool) {
	v := uint32(0)
	if on {
		v = 1
	}
	return abiTrapExits(v) == 1
}

// Exit ends this process normally with code, at once: deferred functions
// do not run, and other goroutines stop where they are.
func Exit(code uint32) {
	abiExit(code)
	panic("isle: exit returned")
}

// timeoutOf turns ctx into the ABI's timeout: -1 waits forever, 0 polls.
func timeoutOf(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		if err == context.DeadlineExceeded {
			return 0, nil
		}
		return 0, err
	}
	d, ok := ctx.Deadline()
	if !ok {
		return -1, nil
	}
	t := time.Until(d)
	if t <= 0 {
		return 0, nil
	}
	return int64(t), nil
}
